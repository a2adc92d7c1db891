"""The benchmark code runs (tiny sizes) so it cannot rot, and its JSON keeps its
schema. No timing is asserted."""
import json

import pytest

from benchmarks import __main__ as bench
from benchmarks import report


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    payload = bench.main(["--quick", "--device", "cpu", "--repeats", "2", "--out", str(out)])
    return out, payload


def test_quick_run_writes_json_markdown_and_charts(quick_run):
    out, payload = quick_run
    stored = json.loads((out / "results.json").read_text())
    assert report.validate(stored)
    assert {r["section"] for r in stored["results"]} == set(report.SECTIONS)
    md = (out / "results.md").read_text()
    for section in report.SECTIONS:
        assert "## " + section in md
    pytest.importorskip("matplotlib")
    assert (out / "ratio_vs_torch.png").exists() or not payload["machine"]["torch"]
    assert (out / "scaling.png").stat().st_size > 1000


def test_every_result_was_checked_against_the_peer(quick_run):
    _, payload = quick_run
    if not payload["machine"]["torch"]:
        pytest.skip("PyTorch is not installed: nothing to compare with")
    ours = [r for r in payload["results"]
            if r["engine"] == "autograd" and r["section"] != "overhead"]
    assert ours and all(r["check"] is not None and r["check"]["ok"] for r in ours), \
        [(r["workload"], r["check"]) for r in ours if not (r["check"] or {}).get("ok")]


def test_schema_rejects_broken_records(quick_run):
    _, payload = quick_run
    bad = json.loads(json.dumps(payload["results"][0]))
    bad["median_s"] = "fast"
    with pytest.raises(ValueError, match="median_s"):
        report.validate(dict(payload, results=[bad]))
    with pytest.raises(ValueError, match="machine facts lack 'commit'"):
        report.validate(dict(payload, machine={k: v for k, v in payload["machine"].items()
                                               if k != "commit"}))


def test_cuda_without_a_gpu_is_a_clear_error(capsys):
    import autograd as ag
    if ag.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--device", "cuda", "--only", "overhead"])
    assert "no usable GPU" in capsys.readouterr().err


def test_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "kernels,nonsense"])
    assert "nonsense" in capsys.readouterr().err


def test_the_proof_kits_kernel_cases_pass_on_the_emulator():
    """Every kernel case the GPU proof kit runs (under compute-sanitizer too) passes
    on the emulator, so the case list cannot rot between GPU sessions."""
    import io

    import cuda_emulator
    from benchmarks import kernel_cases
    if cuda_emulator.compiler() is None:
        pytest.skip("no C++ compiler for the CUDA emulator")
    rows = kernel_cases.run_all(emulate=True, out=io.StringIO())
    kinds = {name.split()[0] for name, _, _ in rows}
    assert kinds == {"matmul", "conv2d", "max/avg", "sgd", "adamw", "rmsprop"}
    assert all(ok for _, _, ok in rows), [r for r in rows if not r[2]]


def test_the_proof_kit_table_and_failure_rules():
    from benchmarks import gpu_proof
    step = gpu_proof.Step("cuda tests")
    step.status, step.detail = "passed", "a | b"
    assert "| cuda tests | passed | 0.0 | a / b |" in gpu_proof._table([step])
    assert gpu_proof._pytest_counts("x\n3 passed, 2 skipped in 1s") == "3 passed, 2 skipped"
    assert gpu_proof._pytest_counts("") == "no summary line"


def test_each_engine_ran_alone_in_its_own_process(quick_run):
    _, payload = quick_run
    for r in payload["results"]:
        if r["engine"] in ("autograd", "torch"):
            assert r["engine_info"]["loaded"] == [r["engine"]], (r["workload"], r["engine_info"])


def test_every_simd_isa_is_forced_on_both_engines(tmp_path):
    from autograd.kernels import cpp
    simd = [k for k in cpp.KERNELS if k != "portable"]
    if not simd:
        pytest.skip("this CPU has no SIMD GEMM kernel")
    payload = bench.main(["--quick", "--device", "cpu", "--repeats", "1", "--only", "overhead",
                          "--isa", "all", "--tuned", "--out", str(tmp_path)])
    assert payload["isas"] == simd
    ours = [r for r in payload["results"] if r["engine"] == "autograd"]
    assert {(r["isa"], r["variant"]) for r in ours} == {(i, v) for i in simd
                                                       for v in ("default", "tuned")}
    assert all(r["engine_info"]["gemm_kernel"] == r["isa"] for r in ours)
    theirs = [r for r in payload["results"] if r["engine"] == "torch"]
    assert all(r["engine_info"].get("cpu_capability", r["isa"]).lower().startswith(r["isa"][:4])
               for r in theirs)
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--device", "cpu", "--isa", "sse9", "--out", str(tmp_path)])
