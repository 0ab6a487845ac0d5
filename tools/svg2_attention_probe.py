#!/usr/bin/env python3
r"""Why SVG2 loses to SVG on the embedded model (docs/svg2.md, "Quality"): the self-attention inputs of the
real model, and the attention error of selection rules at one kept fraction.

Runs the embedded model (models/vidsparse-tiny) in diffusers on the CPU for one prompt (20 steps, CFG 4),
keeps q, k and v of every self-attention at the sparse steps given (default 8, 13, 18) of the branches given
(default the conditional one), then for every (step, branch, layer, head) compares with dense attention
(relative L2 of the attention output):
  - svg:          SVG's two layouts (frame-major band with the first frame as sink, and the same band in
                  token-major order), the better one per head, widened until the kept fraction is reached;
  - block oracle: per 128-query block of the natural order, the 128-key blocks of most true mass;
  - svg2 cluster: the earlier rule, whole key clusters per query cluster (centroid estimate);
  - svg2 pages:   the rule vidsparse runs (pages of 128 in cluster order per query block, estimate);
each SVG2 rule at the cluster counts given (k-means as ours: 50 iterations from evenly spaced tokens), and
with --variants the pages rule changed in one respect at a time (see --help).

    /work/venv/bin/python tools/svg2_attention_probe.py --counts 16/54,64/256,300/1000 [--budget 0.25]
    /work/venv/bin/python tools/svg2_attention_probe.py --counts 300/1000 --budget 0.364 --steps 8,11,14,17 \
        --branches cond,uncond --variants true,global,warm,sides,grouped,bisected
"""
import argparse
import math
import os

import torch

BLOCK = 128
torch.set_grad_enabled(False)


def capture(model_dir, prompt, steps=(8, 13, 18), branches=("cond",)):
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
            kept.append((state["step"], state["branch"], q[0].clone(), k[0].clone(), v[0].clone()))
        return dispatch(q, k, v, **kw)

    wan.dispatch_attention_fn = keep_self_attention
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 32, 32)
    scheduler.set_timesteps(20)
    for i, t in enumerate(scheduler.timesteps):
        state.update(on=i in steps and "cond" in branches, step=i, branch="cond")
        v_cond = dit(x, t.expand(1), cond, return_dict=False)[0]
        state.update(on=i in steps and "uncond" in branches, branch="uncond")
        v_uncond = dit(x, t.expand(1), uncond, return_dict=False)[0]
        x = scheduler.step(v_uncond + 4.0 * (v_cond - v_uncond), t, x, return_dict=False)[0]
    wan.dispatch_attention_fn = dispatch
    return kept


def kmeans(x, clusters, iterations=50, init=None):
    """Ours: centroids from the tokens at floor((c + 0.5) V / C) (or `init`), Lloyd, empty clusters keep theirs."""
    n = x.shape[0]
    cent = x[[int((c + 0.5) * n / clusters) for c in range(clusters)]].clone() if init is None else init.clone()
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


def block_of(labels):
    """Each token's block (128 positions) in cluster order (a stable sort by label)."""
    block = torch.empty(len(labels), dtype=torch.long)
    block[torch.sort(labels, stable=True).indices] = torch.arange(len(labels)) // BLOCK
    return block


def grouped(labels, cent, groups):
    """The clusters renumbered so that similar ones are neighbours: k-means of the centroids into `groups`,
    clusters ordered by group (then by index)."""
    glabels, _ = kmeans(cent, groups, 20)
    order = torch.sort(glabels, stable=True).indices  # new index -> old
    new_index = torch.empty_like(order)
    new_index[order] = torch.arange(len(order))
    return new_index[labels], cent[order]


def bisected(labels, cent, iterations=8):
    """The clusters renumbered by recursive bisection: a span of clusters holding more than one page of
    tokens is sorted along its centroids' principal direction (power iteration) and cut where half its
    tokens lie; clusters end in an order where neighbours are alike at every scale."""
    sizes = torch.bincount(labels, minlength=cent.shape[0]).float()

    def order(idx):
        if len(idx) < 2 or sizes[idx].sum() <= BLOCK:
            return idx
        x = cent[idx] - (cent[idx] * sizes[idx, None]).sum(0) / sizes[idx].sum().clamp(min=1)
        d = torch.ones(x.shape[1])
        for _ in range(iterations):
            d = x.T @ (sizes[idx] * (x @ d))
            d = d / d.norm().clamp(min=1e-30)
        idx = idx[torch.sort(x @ d, stable=True).indices]
        half = int(torch.searchsorted(sizes[idx].cumsum(0), sizes[idx].sum() / 2)) + 1
        half = min(max(half, 1), len(idx) - 1)
        return torch.cat([order(idx[:half]), order(idx[half:])])

    old = order(torch.arange(cent.shape[0]))
    new_index = torch.empty_like(old)
    new_index[old] = torch.arange(len(old))
    return new_index[labels], cent[old]


def split_sides(q, budget, clusters, side):
    """The pages rule with one side at cluster granularity: side="query" selects key pages per query cluster,
    side="key" selects key clusters per query block."""
    n = q.shape[0]
    ql, qc, kl, kc = clusters
    sizes = torch.bincount(kl, minlength=kc.shape[0]).float()
    q_block, k_page = block_of(ql), block_of(kl)
    rows = ql if side == "query" else q_block
    cols = k_page if side == "query" else kl
    per_key = key_weights(qc, kc, sizes)[ql][:, kl]
    per_col = per_key @ torch.nn.functional.one_hot(cols, int(cols.max()) + 1).float()
    mass = torch.zeros(int(rows.max()) + 1, per_col.shape[1]).index_add_(0, rows, per_col)
    kept = keep_by_budget(mass, torch.bincount(cols, minlength=per_col.shape[1]).float(), budget, n)
    return kept[rows][:, cols]


def keep_globally(mass, sizes, budget, rows):
    """Per head: (query block, key page) pairs by decreasing mass per key while the pairs ranked before cover
    less than budget of the map; every block keeps its heaviest page."""
    cost = rows[:, None] * sizes[None, :]
    flat = torch.sort((mass / sizes[None, :]).flatten(), descending=True, stable=True).indices
    before = cost.flatten()[flat].cumsum(0) - cost.flatten()[flat]
    kept = torch.zeros(mass.numel(), dtype=torch.bool)
    kept[flat] = before < budget * rows.sum() * sizes.sum()
    kept = kept.view(mass.shape)
    kept[torch.arange(mass.shape[0]), mass.argmax(1)] = True
    return kept


def svg2_pages(q, k, cq, ck, budget, clusters=None, true_mass=False, spread="block"):
    """The rule vidsparse runs; `clusters` (labels and centroids of q and k) instead of fresh k-means, the
    true attention mass of each (query block, key page) instead of the centroid estimate, or the budget
    spread over the head's blocks by mass per key (spread="global") instead of the same for every block."""
    n = q.shape[0]
    ql, qc, kl, kc = clusters if clusters is not None else (*kmeans(q, cq), *kmeans(k, ck))
    sizes = torch.bincount(kl, minlength=kc.shape[0]).float()
    pages = (n + BLOCK - 1) // BLOCK
    q_block, k_page = block_of(ql), block_of(kl)
    if true_mass:
        per_key = torch.softmax(q @ k.T / math.sqrt(q.shape[1]), 1)
    else:
        per_key = key_weights(qc, kc, sizes)[ql][:, kl]  # [query, key]
    per_page = per_key @ torch.nn.functional.one_hot(k_page, pages).float()
    mass = torch.zeros(pages, pages).index_add_(0, q_block, per_page)
    page_keys = torch.bincount(k_page, minlength=pages).float()
    if spread == "global":
        kept = keep_globally(mass, page_keys, budget, torch.bincount(q_block, minlength=pages).float())
    else:
        kept = keep_by_budget(mass, page_keys, budget, n)
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
    ap.add_argument("--steps", default="8,13,18", help="the steps measured")
    ap.add_argument("--branches", default="cond", help="cond, uncond or cond,uncond")
    ap.add_argument("--variants", default="",
                    help="also, at the last counts (comma-separated): true (the pages with the true mass), global "
                         "(the budget spread over the head's blocks by mass per key), warm (k-means warm-started as "
                         "the engine runs it: 50 iterations at the first sparse step, 8, then 2 per step), sides (key "
                         "pages selected per query cluster, and key clusters per query block), grouped "
                         "(the clusters renumbered by a k-means of their centroids into as many groups as pages), "
                         "bisected (renumbered by recursive bisection along the principal direction)")
    ap.add_argument("--cache", help="keep the captured q, k, v in this file (and read them from it when it exists)")
    args = ap.parse_args()
    counts = [tuple(int(c) for c in pair.split("/")) for pair in args.counts.split(",")]
    measured = [int(x) for x in args.steps.split(",")]
    steps = range(8, 20) if "warm" in args.variants else measured  # warm starts need every sparse step
    rules, warm, seen = {"svg": [], "block oracle": []}, {}, {}
    if args.cache and os.path.exists(args.cache):
        captured = torch.load(args.cache)
    else:
        captured = capture(args.model, args.prompt, steps, args.branches.split(","))
        if args.cache:
            torch.save(captured, args.cache)
    for step, branch, q_all, k_all, v_all in captured:
        layer = seen[(step, branch)] = seen.get((step, branch), -1) + 1
        for h in range(q_all.shape[1]):
            q, k, v = (t[:, h].float().contiguous() for t in (q_all, k_all, v_all))
            if "warm" in args.variants:  # the engine's clusters: from scratch at the first sparse step, then warm-started
                cq, ck = counts[-1]
                prev = warm.get((branch, layer, h))
                iterations = 50 if prev is None else 2
                ql, qc = kmeans(q, cq, iterations, None if prev is None else prev[1])
                kl, kc = kmeans(k, ck, iterations, None if prev is None else prev[3])
                warm[(branch, layer, h)] = (ql, qc, kl, kc)
            if step not in measured:
                continue
            ref = attention(q, k, v)
            row = {"svg": svg_layouts(q, k, v, ref, args.budget, 16, q.shape[0] // 16),
                   "block oracle": rel_l2(attention(q, k, v, block_oracle(q, k, args.budget)), ref)}
            for cq, ck in counts:
                for name, rule in (("cluster", svg2_cluster), ("pages", svg2_pages)):
                    row[f"svg2 {name} {cq}/{ck}"] = rel_l2(attention(q, k, v, rule(q, k, cq, ck, args.budget)), ref)
            if args.variants:
                cq, ck = counts[-1]
                fresh = (*kmeans(q, cq), *kmeans(k, ck))
                pages = (q.shape[0] + BLOCK - 1) // BLOCK
                regroup = (*grouped(*fresh[:2], pages), *grouped(*fresh[2:], pages))
                chosen = {"true": [("true mass", dict(clusters=fresh, true_mass=True))],
                          "global": [("global", dict(clusters=fresh, spread="global"))],
                          "warm": [("warm", dict(clusters=warm.get((branch, layer, h))))],
                          "sides": [("query clusters x key pages", dict(side="query")),
                                    ("query blocks x key clusters", dict(side="key"))],
                          "bisected": [("bisected", dict(clusters=(*bisected(*fresh[:2]), *bisected(*fresh[2:]))))],
                          "grouped": [("grouped", dict(clusters=regroup)),
                                      ("grouped true mass", dict(clusters=regroup, true_mass=True))]}
                for name, kw in (v for key in args.variants.split(",") for v in chosen[key]):
                    if "side" in kw:
                        mask = split_sides(q, args.budget, fresh, kw["side"])
                    else:
                        mask = svg2_pages(q, k, cq, ck, args.budget, **kw)
                    row[f"pages {name}"] = rel_l2(attention(q, k, v, mask), ref)
            for name, err in row.items():
                rules.setdefault(name, []).append(err)
            print(f"step {step} {branch} layer {layer} head {h}: " + ", ".join(f"{n} {e:.3f}" for n, e in row.items()),
                  flush=True)
    print(f"mean relative L2 of the attention output at kept fraction {args.budget} ({len(rules['svg'])} heads):")
    for name, errs in rules.items():
        print(f"  {name:24s} {sum(errs) / len(errs):.3f}")


if __name__ == "__main__":
    main()
