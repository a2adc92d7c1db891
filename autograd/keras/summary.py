"""``model.summary()``'s table: layer (type), output shape, parameter count and, for
functional models, what each layer is connected to; then the totals."""


def _shape(shape):
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return str((None,) + tuple(shape)).replace("None,)", "None)")


def _connections(model, layer):
    if not hasattr(model, "_nodes"):
        return None
    out = []
    for node in layer.inbound_nodes:
        if node in model._nodes:
            for t in node.inputs:
                parent = t.node.layer
                out.append("%s[%d][%d]" % (parent.name, parent.inbound_nodes.index(t.node),
                                           t.index))
    return out or ["-"]


def lines(model):
    """The summary as one string (Keras hands ``print_fn`` the whole table at once)."""
    layers = model.layers
    functional = hasattr(model, "_nodes")
    names = ["%s (%s)" % (layer.name, type(layer).__name__) for layer in layers]
    col = max([28] + [len(n) + 2 for n in names])
    shapes = [_shape(layer.output_shape) for layer in layers]
    shape_col = max([26] + [len(s) + 2 for s in shapes])
    if functional:
        row = " %%-%ds%%-%ds%%-12s%%s" % (col, shape_col)
        header = row % ("Layer (type)", "Output Shape", "Param #", "Connected to")
    else:
        row = " %%-%ds%%-%ds%%s" % (col, shape_col)
        header = row % ("Layer (type)", "Output Shape", "Param #")
    width = max(col + shape_col + 11, len(header) + 2)
    out = ['Model: "%s"' % model.name, "_" * width, header, "=" * width]
    for i, (name, shape, layer) in enumerate(zip(names, shapes, layers)):
        params = "{:,}".format(layer.count_params())
        if functional:
            links = _connections(model, layer)
            out.append(row % (name, shape, params, links[0]))
            out.extend(row % ("", "", "", link) for link in links[1:])
        else:
            out.append(row % (name, shape, params))
        out.append("" if i < len(layers) - 1 else "=" * width)
    total = sum(layer.count_params() for layer in layers)
    trainable = sum(layer.trainable_count() for layer in layers)
    out += ["Total params: {:,}".format(total), "Trainable params: {:,}".format(trainable),
            "Non-trainable params: {:,}".format(total - trainable), "_" * width]
    return ["\n".join(out)]
