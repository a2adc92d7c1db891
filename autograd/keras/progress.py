"""fit()'s output, in Keras' formats. verbose=1: 'Epoch e/E', then a bar redrawn
in place on a terminal (elsewhere, one line when the epoch ends); verbose=2: one
line per epoch; 0: silent."""
import sys
import time


def _format(logs):
    return " - ".join("%s: %.4f" % (k, v) for k, v in sorted(logs.items()))


class Progress:
    def __init__(self, steps, verbose, title):
        self.steps, self.verbose = steps, verbose
        self.t0 = time.perf_counter()
        self.live = verbose == 1 and sys.stdout.isatty()
        if verbose in (1, 2) and title:
            print(title)

    def _line(self, done, logs, bar):
        elapsed = time.perf_counter() - self.t0
        per_step = 1000 * elapsed / max(done, 1)
        filled = int(20 * done / max(self.steps, 1))
        head = "%d/%d" % (done, self.steps)
        body = ("%s %s %.0fs %.0fms/step" % (head, "━" * filled + " " * (20 - filled), elapsed,
                                            per_step) if bar else
                "%s - %.0fs - %.0fms/step" % (head, elapsed, per_step))
        return body + (" - " + _format(logs) if logs else "")

    def update(self, done, logs):
        if self.live:
            sys.stdout.write("\r" + self._line(done, logs, True))
            sys.stdout.flush()

    def finish(self, logs):
        if self.verbose == 1:
            print(("\r" if self.live else "") + self._line(self.steps, logs, True))
        elif self.verbose == 2:
            print(self._line(self.steps, logs, False))
