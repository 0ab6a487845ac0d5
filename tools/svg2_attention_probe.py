#!/usr/bin/env python3
"""Why SVG2 loses to SVG on the embedded model (docs/svg2.md, "Quality"): the self-attention inputs of the
real model, and the attention error of selection rules at one kept fraction.

Runs the embedded model (models/vidsparse-tiny) in diffusers on the CPU for one prompt (20 steps, CFG 4),
keeps q, k and v of every self-attention at three sparse steps (8, 13, 18) of the conditional branch, then
for every (step, layer, head) compares with dense attention (relative L2 of the attention output):
  - svg:          SVG's two layouts (frame-major band with the first frame as sink, and the same band in
                  token-major order), the better one per head, widened until the kept fraction is reached;
  - block oracle: per 128-query block of the natural order, the 128-key blocks of most true mass;
  - svg2 cluster: the earlier rule, whole key clusters per query cluster (centroid estimate);
  - svg2 pages:   the rule vidsparse runs (pages of 128 in cluster order per query block, estimate);
each SVG2 rule at the cluster counts given (k-means as ours: 50 iterations from evenly spaced tokens).

    /work/venv/bin/python tools/svg2_attention_probe.py --counts 16/54,64/256,300/1000 [--budget 0.25]
"""
import argparse
import math

import torch

BLOCK = 128
torch.set_grad_enabled(False)


def capture(model_dir, prompt, steps=(8, 13, 18)):
    import diffusers.models.transformers.transformer_wan as wan
    from diffusers import UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5EncoderModel

    tok = AutoTokenizer.from_pretrained(model_dir + "/tokenizer")
    encoder = UMT5EncoderModel.from_pretrained(model_dir + "/text_encoder", torch_dtype=torch.float32).eval()
    dit = WanTransformer3DModel.from_pretrained(model_dir + "/transformer", torch_dtype=torch.float32).eval()
    scheduler = UniPCMultistepScheduler.from_pretrained(model_dir + "/scheduler")

    def embed(text):
        ids = tok([text], padding="max_length", max_length=32, truncation=True, return_tensors="pt")
        e = encoder(ids.input_ids, attention_mask=ids.attention_mask).last_hidden_state
        e[:, int(ids.attention_mask.sum()):] = 0
        return e

    cond, uncond = embed(prompt), embed("")
    kept, state = [], {"on": False}
    dispatch = wan.dispatch_attention_fn

    def keep_self_attention(q, k, v, **kw):
        if state["on"] and q.shape[1] == k.shape[1]:
            kept.append((state["step"], q[0].clone(), k[0].clone(), v[0].clone()))
        return dispatch(q, k, v, **kw)

    wan.dispatch_attention_fn = keep_self_attention
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 32, 32)
    scheduler.set_timesteps(20)
    for i, t in enumerate(scheduler.timesteps):
        state.update(on=i in steps, step=i)
        v_cond = dit(x, t.expand(1), cond, return_dict=False)[0]
        state["on"] = False
        v_uncond = dit(x, t.expand(1), uncond, return_dict=False)[0]
        x = scheduler.step(v_uncond + 4.0 * (v_cond - v_uncond), t, x, return_dict=False)[0]
    wan.dispatch_attention_fn = dispatch
    return kept


def kmeans(x, clusters, iterations=50):
    """Ours: centroids from the tokens at floor((c + 0.5) V / C), Lloyd, empty clusters keep theirs."""
    n = x.shape[0]
    cent = x[[int((c + 0.5) * n / clusters) for c in range(clusters)]].clone()
    for _ in range(iterations):
        labels = ((cent * cent).sum(1)[None] - 2 * x @ cent.T).argmin(1)
        count = torch.bincount(labels, minlength=clusters)
        sums = torch.zeros_like(cent).index_add_(0, labels, x)
        cent[count > 0] = sums[count > 0] / count[count > 0, None]
    return labels, cent


def attention(q, k, v, mask=None):
    s = q @ k.T / math.sqrt(q.shape[1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, 1) @ v


def keep_by_budget(mass, sizes, budget, video):
    """Per row, units by decreasing mass while the keys of those ranked before are fewer than budget V."""
    order = torch.sort(mass, dim=1, descending=True, stable=True).indices
    before = sizes[order].cumsum(1) - sizes[order]
    kept = before < budget * video
    kept[:, 0] = True
    return torch.zeros_like(kept).scatter_(1, order, kept)


def key_weights(qc, kc, sizes):
    s = qc @ kc.T / math.sqrt(qc.shape[1])
    w = torch.exp(s - s.max(1, keepdim=True).values)
    return w / (w * sizes[None]).sum(1, keepdim=True)


def svg2_cluster(q, k, cq, ck, budget):
    ql, qc = kmeans(q, cq)
    kl, kc = kmeans(k, ck)
    sizes = torch.bincount(kl, minlength=ck).float()
    kept = keep_by_budget(key_weights(qc, kc, sizes) * sizes[None], sizes, budget, q.shape[0])
    return kept[ql][:, kl]


def svg2_pages(q, k, cq, ck, budget):
    n = q.shape[0]
    ql, qc = kmeans(q, cq)
    kl, kc = kmeans(k, ck)
    sizes = torch.bincount(kl, minlength=ck).float()
    pages = (n + BLOCK - 1) // BLOCK
    q_block, k_page = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.long)
    q_block[torch.sort(ql, stable=True).indices] = torch.arange(n) // BLOCK
    k_page[torch.sort(kl, stable=True).indices] = torch.arange(n) // BLOCK
    per_key = key_weights(qc, kc, sizes)[ql][:, kl]  # [query, key]
    per_page = per_key @ torch.nn.functional.one_hot(k_page, pages).float()
    mass = torch.zeros(pages, pages).index_add_(0, q_block, per_page)
    kept = keep_by_budget(mass, torch.bincount(k_page, minlength=pages).float(), budget, n)
    return kept[q_block][:, k_page]


def block_oracle(q, k, budget):
    n = q.shape[0]
    blocks = n // BLOCK
    p = torch.softmax(q @ k.T / math.sqrt(q.shape[1]), 1)
    mass = p.reshape(blocks, BLOCK, blocks, BLOCK).sum((1, 3))
    kept = keep_by_budget(mass, torch.full((blocks,), float(BLOCK)), budget, n)
    b = torch.arange(n) // BLOCK
    return kept[b][:, b]


def svg_layouts(q, k, v, ref, budget, frames, per_frame):
    n = q.shape[0]
    frame = torch.arange(n) // per_frame
    best = None
    for position in (torch.arange(n), (torch.arange(n) % per_frame) * frames + frame):
        block = position // BLOCK
        for half in range(n // BLOCK):
            mask = ((block[:, None] - block[None, :]).abs() <= half) | (frame[None, :] == 0)
            if mask.float().mean() >= budget:
                break
        err = rel_l2(attention(q, k, v, mask), ref)
        best = err if best is None else min(best, err)
    return best


def rel_l2(x, ref):
    return ((x - ref).norm() / ref.norm()).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/vidsparse-tiny")
    ap.add_argument("--prompt", default="a red circle moves to the right on a blue background")
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--counts", default="16/54,300/1000", help="query/key cluster counts of the SVG2 rules")
    args = ap.parse_args()
    counts = [tuple(int(c) for c in pair.split("/")) for pair in args.counts.split(",")]
    rules = {"svg": [], "block oracle": []}
    for step, q_all, k_all, v_all in capture(args.model, args.prompt):
        for h in range(q_all.shape[1]):
            q, k, v = (t[:, h].float().contiguous() for t in (q_all, k_all, v_all))
            ref = attention(q, k, v)
            row = {"svg": svg_layouts(q, k, v, ref, args.budget, 16, q.shape[0] // 16),
                   "block oracle": rel_l2(attention(q, k, v, block_oracle(q, k, args.budget)), ref)}
            for cq, ck in counts:
                for name, rule in (("cluster", svg2_cluster), ("pages", svg2_pages)):
                    row[f"svg2 {name} {cq}/{ck}"] = rel_l2(attention(q, k, v, rule(q, k, cq, ck, args.budget)), ref)
            for name, err in row.items():
                rules.setdefault(name, []).append(err)
            print(f"step {step} head {h}: " + ", ".join(f"{n} {e:.3f}" for n, e in row.items()), flush=True)
    print(f"mean relative L2 of the attention output at kept fraction {args.budget} ({len(rules['svg'])} heads):")
    for name, errs in rules.items():
        print(f"  {name:24s} {sum(errs) / len(errs):.3f}")


if __name__ == "__main__":
    main()
