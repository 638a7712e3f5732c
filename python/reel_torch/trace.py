"""torch.fx tracing with concrete values: every node of the graph carries the tensor (or
Python value) it produced on the example input, in node.meta["value"].

A module's forward may then use its input's shape as plain integers (`b, t = x.shape[:2]`,
`x.view(b * t, -1)`, `len(x)`), unpack tuples (`y, (h, c) = self.lstm(x)`) and loop a fixed
number of times; symbolic tracing alone cannot, on this Python. The graph is that of the
example's clip length, which is all export needs: it maps each node onto a reel layer that
then runs one frame at a time. Control flow on tensor values still cannot be traced.
"""
import torch
import torch.fx as fx


class TraceError(Exception):
    pass


def _real(a):
    """An argument with every proxy replaced by the value it stands for."""
    return fx.node.map_aggregate(a, lambda v: v.node.meta["value"] if isinstance(v, fx.Proxy) else v)


class _Proxy(fx.Proxy):
    """A proxy that answers shape questions with the example's numbers."""

    def _value(self):
        return self.node.meta["value"]

    def __getattr__(self, name):
        if name in ("shape", "ndim", "dtype", "device", "is_cuda"):
            return getattr(self._value(), name)
        return super().__getattr__(name)

    def size(self, dim=None):
        return self._value().size() if dim is None else self._value().size(dim)

    def dim(self):
        return self._value().dim()

    def numel(self):
        return self._value().numel()

    def __len__(self):
        return len(self._value())

    def __iter__(self):
        return iter([self[i] for i in range(len(self._value()))])

    def __bool__(self):
        raise TraceError("the forward branches on a tensor's value, which a graph cannot "
                         "follow; branch on shapes or module settings instead")


class ConcreteTracer(fx.Tracer):
    """Traces `root` on `example`, keeping the modules for which is_leaf(module) is true (and
    torch.nn's own, but nn.Sequential) as single call_module nodes."""

    def __init__(self, is_leaf):
        super().__init__()
        self._is_leaf = is_leaf
        self._example = None
        self._evaluating = False  # running a module on real values: no nodes

    def is_leaf_module(self, m, qualname):
        return self._is_leaf(m) or super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        if self._evaluating:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._evaluating:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def proxy(self, node):
        return _Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, *rest, **kw):
        p = super().create_proxy(kind, target, args, kwargs, name, type_expr, *rest, **kw)
        p.node.meta["value"] = self._evaluate(kind, target, args, kwargs)
        return p

    def _evaluate(self, kind, target, args, kwargs):
        if kind == "placeholder":
            return self._example
        if kind == "output":
            return None
        a, k = _real(args), _real(kwargs)
        self._evaluating = True  # real values in, real values out: record nothing
        try:
            if kind == "call_function":
                return target(*a, **k)
            if kind == "call_method":
                return getattr(a[0], target)(*a[1:], **k)
            if kind == "call_module":
                return self.root.get_submodule(target)(*a, **k)
            if kind == "get_attr":
                obj = self.root
                for part in target.split("."):
                    obj = getattr(obj, part)
                return obj
        finally:
            self._evaluating = False
        raise TraceError(f"unexpected node kind {kind}")

    def trace_with(self, root, example):
        self._example = example
        with torch.no_grad():
            graph = self.trace(root)
        return fx.GraphModule(root, graph)
