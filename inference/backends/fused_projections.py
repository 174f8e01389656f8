"""One matrix product where a Llama-style layer does several on the same input, for CPU decoding.

A decoder layer multiplies the same hidden state by q_proj, k_proj and v_proj, and the MLP's input
by gate_proj and up_proj: at one token per step that is five small matrix-vector products per layer
(and with int8 weights, five re-quantisations of the same activation). ``fuse(model)`` concatenates
each group's weights into one Linear, computed once when the first projection of the group is called;
the others return their slice of that output. The modules keep their names and shapes, so the
model's own forward code runs unchanged, and the same numbers come out (one product, split).

Thread-safe: the computed output is kept per calling thread (two answers may share a model)."""

import threading

import torch

GROUPS = (("self_attn", ("q_proj", "k_proj", "v_proj")), ("mlp", ("gate_proj", "up_proj")))


class _Fused(torch.nn.Module):
    """The concatenated Linear and the output computed for the latest input, per thread."""

    def __init__(self, linear):
        super().__init__()
        self.linear = linear
        self._seen = threading.local()

    def output(self, x):
        seen = self._seen
        if getattr(seen, "x", None) is not x:
            seen.x, seen.y = x, self.linear(x)
        return seen.y

    def forget(self):
        self._seen.x = self._seen.y = None

    # Copies (quantize_dynamic deep-copies the model) start with nothing seen.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_seen", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._seen = threading.local()


class _Slice(torch.nn.Module):
    """What was one projection: its rows of the fused output."""

    def __init__(self, fused, start, end, last):
        super().__init__()
        self._fused = [fused]  # not a child module: the fused Linear is registered once, on the parent
        self.start, self.end, self.last = start, end, last
        self.out_features = end - start

    def forward(self, x):
        fused = self._fused[0]
        y = fused.output(x)[..., self.start : self.end]
        if self.last:
            fused.forget()  # the group is done with this input: do not keep it alive
        return y


def _fusable(linears):
    return (
        all(type(linear) is torch.nn.Linear for linear in linears)
        and len({linear.in_features for linear in linears}) == 1
        and len({linear.weight.dtype for linear in linears}) == 1
        and len({linear.bias is None for linear in linears}) == 1
    )


def fuse(model):
    """Fuse every Llama-style projection group of the model in place; returns how many were fused.
    Models of other shapes (GPT-2's c_attn is fused already) are left as they are."""
    fused_groups = 0
    for module in list(model.modules()):
        for attribute, names in GROUPS:
            parent = getattr(module, attribute, None)
            linears = [getattr(parent, name, None) for name in names]
            if parent is None or not _fusable(linears):
                continue
            weight = torch.cat([linear.weight.detach() for linear in linears])
            has_bias = linears[0].bias is not None
            linear = torch.nn.Linear(
                weight.shape[1], weight.shape[0], bias=has_bias, device=weight.device, dtype=weight.dtype
            )
            with torch.no_grad():
                linear.weight.copy_(weight)
                if has_bias:
                    linear.bias.copy_(torch.cat([part.bias.detach() for part in linears]))
            fused = _Fused(linear)
            parent.fused_projections = fused
            start = 0
            for i, (name, part) in enumerate(zip(names, linears)):
                end = start + part.out_features
                setattr(parent, name, _Slice(fused, start, end, last=i == len(names) - 1))
                start = end
            fused_groups += 1
    return fused_groups
