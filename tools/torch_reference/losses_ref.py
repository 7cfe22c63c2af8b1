#!/usr/bin/env python3
"""Independent PyTorch float64 oracle for the losses of LOSSES.md (section 16 conventions).

Every loss is written here from the formulas of LOSSES.md, as plain torch code, and its
gradients come from torch autograd.  The command line mirrors `loss_eval`:

    losses_ref.py list
    losses_ref.py eval --loss NAME [--param key=value ...] --input in.safetensors --output out.safetensors
    losses_ref.py compare EXPECTED.out.safetensors ACTUAL.out.safetensors [--rtol 1e-9]
    losses_ref.py selfcheck
    losses_ref.py make_fixtures [--out DIR]
    losses_ref.py verify [--dir DIR]

See README.md beside this file.
"""

import argparse
import math
import os
import sys
import zlib
from collections import OrderedDict

import torch
from safetensors.torch import load_file, save_file

torch.set_default_dtype(torch.float64)
DT = torch.float64

# --------------------------------------------------------------------------------------------
# Numerical constants (see README "Interpretations")
# --------------------------------------------------------------------------------------------
EPS_NRM = 1e-12  # nrm(v) = v / sqrt(|v|^2 + EPS_NRM)                          (section 0)
RANGE_EPS = 1e-12  # range loss: 1 / max(D_j, 1e-12)                              (section 10/16)
DDL_BINS = 1000  # DDL histogram: bin centres t_r = r / 1000, r = 0..999      (section 12)
DDL_SIGMA = 0.1  # DDL Gaussian kernel width                                   (section 12)
DDL_EPS = 1e-9  # DDL KL epsilon                                              (section 12)


# --------------------------------------------------------------------------------------------
# Diagnostics: every selector / hinge / threshold notes the signed distance of its argument
# from the switch point, so that fixture generation can keep all of them away from kinks and
# can check that both branches are exercised.
# --------------------------------------------------------------------------------------------
class Diag:
    def __init__(self):
        self.on = False
        self.data = OrderedDict()
        self.counts = OrderedDict()

    def reset(self):
        self.data = OrderedDict()
        self.counts = OrderedDict()

    def note(self, name, signed):
        """signed: tensor of (value - threshold); > 0 one branch, <= 0 the other."""
        if not self.on:
            return
        v = signed.detach().reshape(-1).to(DT)
        if name in self.data:
            self.data[name] = torch.cat([self.data[name], v])
        else:
            self.data[name] = v

    def count(self, name, n):
        if not self.on:
            return
        self.counts[name] = self.counts.get(name, 0) + int(n)

    def summary(self):
        out = OrderedDict()
        for k, v in self.data.items():
            if v.numel() == 0:
                out[k] = (0, 0, math.inf)
            else:
                out[k] = (int((v > 0).sum()), int((v <= 0).sum()), float(v.abs().min()))
        return out


DIAG = Diag()


# --------------------------------------------------------------------------------------------
# Building blocks (section 0)
# --------------------------------------------------------------------------------------------
def nrm(v):
    """nrm(v) = v / sqrt(|v|^2 + eps), row-wise."""
    return v / torch.sqrt((v * v).sum(-1, keepdim=True) + EPS_NRM)


def row_norm(v):
    return torch.sqrt((v * v).sum(-1))


def cosine_matrix(x, w):
    """c_ij = nrm(x_i) . nrm(w_j), clamped to [-1, 1]."""
    return torch.clamp(nrm(x) @ nrm(w).T, -1.0, 1.0)


def cross_entropy(z, y):
    """Per-sample CE(z_i, y_i) = LSE(z_i) - z_{i, y_i}."""
    return torch.logsumexp(z, dim=1) - z.gather(1, y[:, None]).squeeze(1)


def onehot_mask(y, C):
    return torch.nn.functional.one_hot(y, C).bool()


def replace_target(z_other, z_target, y):
    """Logit matrix whose (i, y_i) entries are z_target[i] and others z_other."""
    mask = onehot_mask(y, z_other.shape[1])
    return torch.where(mask, z_target[:, None].expand_as(z_other), z_other)


def sq_dist_rows(a, b):
    """Squared distance of paired rows from explicit differences: exactly 0 for equal rows."""
    d = a - b
    return (d * d).sum(-1)


def sq_dist_matrix(a, b):
    """Squared distance matrix from explicit differences (B x B x d)."""
    d = a[:, None, :] - b[None, :, :]
    return (d * d).sum(-1)


def dist_from_sq(d2):
    """Non-squared distance with the section-0 rule: 0 (and gradient 0) where d2 == 0."""
    pos = d2 > 0
    safe = torch.where(pos, d2, torch.ones_like(d2))
    return torch.where(pos, torch.sqrt(safe), torch.zeros_like(d2))


def zero_like_graph(*tensors):
    """A graph-connected 0 (gradient 0 to every input)."""
    return sum((t.sum() * 0.0) for t in tensors)


def avg_nonzero(terms, *graph):
    """Mean over the terms that are > 0; 0 with zero gradient if there is none."""
    mask = terms.detach() > 0
    n = int(mask.sum())
    if n == 0:
        return zero_like_graph(terms, *graph)
    return terms[mask].sum() / n


def sin_from_cos(c):
    """sin(theta) = sqrt(max(1 - c^2, 0)): exact forward value, no floor (section 8 preferred form)."""
    return torch.sqrt(torch.clamp(1.0 - c * c, min=0.0))


def unordered_pairs(B):
    iu = torch.triu_indices(B, B, offset=1)
    return iu[0], iu[1]


# --------------------------------------------------------------------------------------------
# psi of L-Softmax / SphereFace (section 4)
# --------------------------------------------------------------------------------------------
def chebyshev(c, m):
    """T_m(c) = sum_n (-1)^n binom(m, 2n) c^(m-2n) (1-c^2)^n."""
    s2 = 1.0 - c * c
    out = torch.zeros_like(c)
    for n in range(0, m // 2 + 1):
        out = out + ((-1) ** n) * math.comb(m, 2 * n) * c ** (m - 2 * n) * s2 ** n
    return out


def psi_k(c, m):
    """k = number of thresholds cos(j pi / m), j = 1..m-1, that c lies strictly below (no grad)."""
    cd = c.detach()
    k = torch.zeros_like(cd)
    for j in range(1, m):
        th = math.cos(j * math.pi / m)
        DIAG.note("psi.k_threshold", cd - th)
        k = k + (cd < th).to(DT)
    return k


def psi(c, m):
    """psi(theta) = (-1)^k cos(m theta) - 2k, evaluated as (-1)^k T_m(c) - 2k."""
    k = psi_k(c, m)
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    for kk in range(m):
        DIAG.count("psi.k=%d" % kk, int((k == kk).sum()))
    return sign * chebyshev(c, m) - 2.0 * k


# --------------------------------------------------------------------------------------------
# The losses.  Each takes a dict of tensors and a dict of (parsed) parameters and returns a
# 0-d float64 loss tensor.
# --------------------------------------------------------------------------------------------
def loss_softmax(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    z = x @ W.T
    if "bias" in t:
        z = z + t["bias"]
    return cross_entropy(z, y).mean()


def loss_focal(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    gamma, alpha = p["gamma"], p["alpha"]
    z = x @ W.T
    if "bias" in t:
        z = z + t["bias"]
    log_p = -cross_entropy(z, y)  # ln p_i = z_y - LSE(z)
    one_minus_p = -torch.expm1(log_p)  # 1 - p, precise as p -> 1
    fl = -alpha * one_minus_p ** gamma * log_p
    return fl.mean()


def deepid2_verif(xi, xj, same, m):
    """Verif_ij = 1/2 d^2 (same), 1/2 [m - d]_+^2 (different), d from the section-0 rule."""
    d2 = sq_dist_rows(xi, xj)
    d = dist_from_sq(d2)
    DIAG.note("deepid2.neg_hinge", (m - d)[~same])
    DIAG.count("deepid2.pos_pairs", int(same.sum()))
    DIAG.count("deepid2.neg_pairs", int((~same).sum()))
    return torch.where(same, 0.5 * d2, 0.5 * torch.relu(m - d) ** 2)


def loss_deepid2(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    z = x @ W.T
    if "bias" in t:
        z = z + t["bias"]
    ident = cross_entropy(z, y).mean()
    B = x.shape[0]
    if B < 2:
        return ident + zero_like_graph(x)
    i, j = unordered_pairs(B)
    verif = deepid2_verif(x[i], x[j], y[i] == y[j], p["m"])
    return ident + p["lambda"] * verif.mean()


def loss_contrastive(t, p):
    x, y = t["embeddings"], t["labels"]
    f = nrm(x)
    B = x.shape[0]
    i, j = unordered_pairs(B)
    d2 = sq_dist_rows(f[i], f[j])
    D = dist_from_sq(d2)
    same = y[i] == y[j]
    nz = d2.detach() > 0
    DIAG.count("contrastive.coincident_pairs", int((~nz).sum()))
    DIAG.note("contrastive.pos_hinge", (D - p["m_pos"])[same & nz])
    DIAG.note("contrastive.neg_hinge", (p["m_neg"] - D)[~same & nz])
    pos_terms = torch.relu(D[same] - p["m_pos"])
    neg_terms = torch.relu(p["m_neg"] - D[~same])
    return avg_nonzero(pos_terms, x) + avg_nonzero(neg_terms, x)


def _first_arg(vals, cand, want_max):
    """Index of the max (or min) of vals over the candidate indices; ties -> lowest index."""
    v = vals[cand]
    best = v.max() if want_max else v.min()
    idx = cand[(v == best).nonzero()[0, 0]]
    # margin to the runner-up (0 for an exact tie)
    if len(cand) > 1:
        others = v[v != best]
        ties = int((v == best).sum()) - 1
        if ties > 0:
            DIAG.count("triplet.batch_hard_exact_ties", ties)
        if others.numel() > 0:
            gap = (best - others.max()) if want_max else (others.min() - best)
            DIAG.note("triplet.batch_hard_gap", gap.reshape(1))
    return int(idx)


def triplet_indices(D, y, mining, alpha):
    """Triplets (a, p, n) kept by the miner; selection on detached D."""
    Dd = D.detach()
    B = y.shape[0]
    same = y[:, None] == y[None, :]
    eye = torch.eye(B, dtype=torch.bool)
    posm = same & ~eye
    negm = ~same
    A, P, N = [], [], []
    if mining in ("all", "semihard"):
        for a in range(B):
            for pp in range(B):
                if not posm[a, pp]:
                    continue
                for n in range(B):
                    if not negm[a, n]:
                        continue
                    if mining == "semihard":
                        diff = Dd[a, n] - Dd[a, pp]
                        DIAG.note("triplet.semihard_lower", diff.reshape(1))
                        DIAG.note("triplet.semihard_upper", (alpha - diff).reshape(1))
                        if not (diff > 0 and diff <= alpha):
                            continue
                    A.append(a)
                    P.append(pp)
                    N.append(n)
    elif mining == "batch_hard":
        for a in range(B):
            pc = posm[a].nonzero().reshape(-1)
            nc = negm[a].nonzero().reshape(-1)
            if len(pc) == 0 or len(nc) == 0:
                DIAG.count("triplet.dropped_anchors", 1)
                continue
            A.append(a)
            P.append(_first_arg(Dd[a], pc, True))
            N.append(_first_arg(Dd[a], nc, False))
    else:
        raise ValueError("unknown mining %r" % mining)
    return torch.tensor(A, dtype=torch.long), torch.tensor(P, dtype=torch.long), torch.tensor(N, dtype=torch.long)


def triplet_from_indices(D, A, P, N, alpha, reduction, *graph):
    if len(A) == 0:
        DIAG.count("triplet.kept", 0)
        return zero_like_graph(D, *graph)
    arg = D[A, P] - D[A, N] + alpha
    DIAG.count("triplet.kept", len(A))
    DIAG.note("triplet.hinge", arg)
    ell = torch.relu(arg)
    if reduction == "sum":
        return ell.sum()
    if reduction == "mean":
        return ell.sum() / len(A)
    if reduction == "avg_nonzero":
        return avg_nonzero(ell, D, *graph)
    raise ValueError("unknown reduction %r" % reduction)


def loss_triplet(t, p):
    x, y = t["embeddings"], t["labels"]
    f = nrm(x)
    D2 = sq_dist_matrix(f, f)
    D = D2 if p["squared"] else dist_from_sq(D2)
    B = x.shape[0]
    off = ~torch.eye(B, dtype=torch.bool)
    DIAG.count("triplet.coincident_pairs", int(((D2.detach() == 0) & off).sum()) // 2)
    A, P, N = triplet_indices(D, y, p["mining"], p["alpha"])
    return triplet_from_indices(D, A, P, N, p["alpha"], p["reduction"], x)


def loss_lsoftmax(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    m, lam = p["m"], p["lambda"]
    c = cosine_matrix(x, W)
    scale = row_norm(x)[:, None] * row_norm(W)[None, :]  # |x_i| |w_j|
    others = scale * c
    cy = c.gather(1, y[:, None]).squeeze(1)
    sy = scale.gather(1, y[:, None]).squeeze(1)
    target = sy * (lam * cy + psi(cy, m)) / (1.0 + lam)
    z = replace_target(others, target, y)
    return cross_entropy(z, y).mean()


def loss_sphereface(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    m, lam = p["m"], p["lambda"]
    Wn = nrm(W)  # |w_j| = 1, gradient flows through the normalisation
    c = cosine_matrix(x, Wn)
    xn = row_norm(x)
    others = xn[:, None] * c
    cy = c.gather(1, y[:, None]).squeeze(1)
    target = xn * (lam * cy + psi(cy, m)) / (1.0 + lam)
    z = replace_target(others, target, y)
    return cross_entropy(z, y).mean()


def loss_normface(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    z = p["s"] * cosine_matrix(x, W)
    return cross_entropy(z, y).mean()


def loss_c_contrastive(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    c = cosine_matrix(x, W)
    d = 2.0 - 2.0 * c  # |x^ - w^|^2
    mask = onehot_mask(y, W.shape[0])
    dy = d.gather(1, y[:, None]).squeeze(1)
    DIAG.note("c_contrastive.hinge", (p["m"] - d)[~mask])
    neg = torch.where(mask, torch.zeros_like(d), torch.relu(p["m"] - d)).sum(1)
    return (dy + neg).mean()


def loss_c_triplet(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    c = cosine_matrix(x, W)
    d = 2.0 - 2.0 * c
    mask = onehot_mask(y, W.shape[0])
    dy = d.gather(1, y[:, None])
    arg = p["m"] + dy - d
    DIAG.note("c_triplet.hinge", arg[~mask])
    terms = torch.where(mask, torch.zeros_like(d), torch.relu(arg))
    return terms.sum(1).mean()


def loss_cosface(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    s, m = p["s"], p["m"]
    c = cosine_matrix(x, W)
    cy = c.gather(1, y[:, None]).squeeze(1)
    z = replace_target(s * c, s * (cy - m), y)
    return cross_entropy(z, y).mean()


def arcface_phi(cy, m, fallback):
    """Target transform of arcface (forward value; exact gradient)."""
    phi = cy * math.cos(m) - sin_from_cos(cy) * math.sin(m)  # cos(theta + m)
    DIAG.note("arcface.one_minus_abs_c", 1.0 - cy.abs())
    if fallback == "threshold":
        th = math.cos(math.pi - m)
        DIAG.note("arcface.threshold", cy - th)
        phi = torch.where(cy.detach() > th, phi, cy - m * math.sin(m))
    elif fallback == "easy_margin":
        DIAG.note("arcface.easy_margin", cy)
        phi = torch.where(cy.detach() > 0, phi, cy)
    elif fallback != "none":
        raise ValueError("unknown fallback %r" % fallback)
    return phi


def loss_arcface(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    s = p["s"]
    c = cosine_matrix(x, W)
    cy = c.gather(1, y[:, None]).squeeze(1)
    phi = arcface_phi(cy, p["m"], p["fallback"])
    if p["gradient"] == "detached":
        # value phi + (c - c) = phi exactly (bit-identical to exact mode), d phi / d c = 1
        phi = phi.detach() + (cy - cy.detach())
    elif p["gradient"] != "exact":
        raise ValueError("unknown gradient %r" % p["gradient"])
    z = replace_target(s * c, s * phi, y)
    return cross_entropy(z, y).mean()


def combined_phi(cy, m1, m2, m3):
    if m1 == 1.0:
        # identity cos(theta + m2) = c cos m2 - sin(theta) sin m2, no fallback
        DIAG.note("combined.one_minus_abs_c", 1.0 - cy.abs())
        return cy * math.cos(m2) - sin_from_cos(cy) * math.sin(m2) - m3
    # psi-style monotone extension (section 4 / opensphere): u = m1 theta + m2,
    # k = max(0, floor(u / pi)) without gradient, phi = (-1)^k cos(u) - 2k - m3.
    DIAG.note("combined.one_minus_abs_c", 1.0 - cy.abs())
    theta = torch.acos(cy)
    u = m1 * theta + m2
    k = torch.clamp(torch.floor(u.detach() / math.pi), min=0.0)
    DIAG.note("combined.k_switch", torch.remainder(u.detach() / math.pi + 0.5, 1.0) - 0.5)
    for kk in range(4):
        DIAG.count("combined.k=%d" % kk, int((k == kk).sum()))
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    return sign * torch.cos(u) - 2.0 * k - m3


def loss_combined(t, p):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    s = p["s"]
    c = cosine_matrix(x, W)
    cy = c.gather(1, y[:, None]).squeeze(1)
    phi = combined_phi(cy, p["m1"], p["m2"], p["m3"])
    z = replace_target(s * c, s * phi, y)
    return cross_entropy(z, y).mean()


def loss_center(t, p):
    x, y, C = t["embeddings"], t["labels"], t["centers"]
    Cy = C.detach()[y]  # centres are state in the default (paper) mode: no gradient
    return 0.5 * sq_dist_rows(x, Cy).sum()


def center_update(x, y, C, alpha):
    """Paper centre update (section 9): c_j <- c_j - alpha * sum_{y_i=j}(c_j - x_i) / (1 + n_j)."""
    C = C.clone()
    for j in torch.unique(y).tolist():
        sel = y == j
        n = int(sel.sum())
        delta = (C[j][None, :] - x[sel]).sum(0) / (1 + n)
        C[j] = C[j] - alpha * delta
    return C


def range_intra_class(xq, k, squared):
    """k' / sum_j 1/max(D_j, eps) over the k' = min(k, #pairs) largest pairwise distances of one class."""
    n = xq.shape[0]
    i, j = unordered_pairs(n)
    d2 = sq_dist_rows(xq[i], xq[j])
    D = d2 if squared else dist_from_sq(d2)
    kk = min(k, D.shape[0])
    order = torch.sort(D.detach(), descending=True, stable=True).indices
    if D.shape[0] > kk:
        DIAG.note("range.topk_gap", (D.detach()[order[kk - 1]] - D.detach()[order[kk]]).reshape(1))
    top = D[order[:kk]]
    DIAG.note("range.eps_clamp", top - RANGE_EPS)
    return kk / (1.0 / torch.clamp(top, min=RANGE_EPS)).sum()


def loss_range(t, p):
    x, y = t["embeddings"], t["labels"]
    k, alpha, beta, m, squared = p["k"], p["alpha"], p["beta"], p["m"], p["squared"]
    if k < 1:
        raise ValueError("range: k must be >= 1")
    classes = torch.unique(y).tolist()  # sorted
    intra = zero_like_graph(x)
    centres = []
    for q in classes:
        xq = x[y == q]
        centres.append(xq.mean(0))
        if xq.shape[0] >= 2:
            intra = intra + range_intra_class(xq, k, squared)
        else:
            DIAG.count("range.singletons", 1)
    if len(classes) >= 2:
        Cm = torch.stack(centres)
        i, j = unordered_pairs(len(classes))
        d2 = sq_dist_rows(Cm[i], Cm[j])
        Dc = d2 if squared else dist_from_sq(d2)
        order = torch.sort(Dc.detach(), stable=True).indices
        if Dc.shape[0] > 1:
            DIAG.note("range.argmin_gap", (Dc.detach()[order[1]] - Dc.detach()[order[0]]).reshape(1))
        dmin = Dc[order[0]]
        DIAG.note("range.inter_hinge", (m - dmin).reshape(1))
        inter = torch.relu(m - dmin)
    else:
        inter = zero_like_graph(x)
    return alpha * intra + beta * inter


def _mv_common(t, p, f_of_cy):
    x, y, W = t["embeddings"], t["labels"], t["weight"]
    s, tt, adaptive = p["s"], p["t"], p["adaptive"]
    c = cosine_matrix(x, W)
    cy = c.gather(1, y[:, None]).squeeze(1)
    fy = f_of_cy(cy)
    mask = onehot_mask(y, W.shape[0])
    DIAG.note("mv.hard", (c.detach() - fy.detach()[:, None])[~mask])
    hard = (c.detach() > fy.detach()[:, None]) & ~mask
    if adaptive:
        hard_logit = s * (tt * c + tt - 1.0)
    else:
        hard_logit = s * (c + tt - 1.0)
    z = torch.where(hard, hard_logit, s * c)
    z = replace_target(z, s * fy, y)
    return cross_entropy(z, y).mean()


def loss_sv_softmax(t, p):
    return _mv_common(t, p, lambda cy: cy)


def loss_mv_am(t, p):
    return _mv_common(t, p, lambda cy: cy - p["m"])


def loss_mv_arc(t, p):
    m = p["m"]

    def f(cy):
        DIAG.note("mv_arc.one_minus_abs_c", 1.0 - cy.abs())
        return cy * math.cos(m) - sin_from_cos(cy) * math.sin(m)

    return _mv_common(t, p, f)


def ddl_soft_hist(s):
    """Normalised Gaussian soft histogram on bin centres r/1000, sigma 0.1."""
    tr = torch.arange(DDL_BINS, dtype=DT) / DDL_BINS
    h = torch.exp(-((s[:, None] - tr[None, :]) ** 2) / (2.0 * DDL_SIGMA ** 2)).sum(0)
    return h / h.sum()


def ddl_kl(p_hist, q_hist):
    """KL(P||Q) = sum_r (p + eps)(ln(p + eps) - ln(q + eps))."""
    pe = p_hist + DDL_EPS
    return (pe * (torch.log(pe) - torch.log(q_hist + DDL_EPS))).sum()


def ddl_branch(f_raw, y, tau):
    """Positive similarities (same-label pairs i<j, > tau) and B negative similarities of a branch."""
    f = nrm(f_raw)
    S = torch.clamp(f @ f.T, -1.0, 1.0)
    B = f.shape[0]
    i, j = unordered_pairs(B)
    same = y[i] == y[j]
    pos_all = S[i[same], j[same]]
    DIAG.note("ddl.pos_tau", pos_all - tau)
    pos = pos_all[pos_all.detach() > tau]
    negs = []
    for a in range(B):
        cand = [b for b in range(a + 1, B) if y[b] != y[a]]
        if not cand:
            negs.append(zero_like_graph(f_raw))
            continue
        row = S[a, cand]
        rd = row.detach()
        mx = rd.max()
        if len(cand) > 1:
            DIAG.note("ddl.rowmax_gap", (mx - rd[rd != mx].max()).reshape(1) if (rd != mx).any() else torch.zeros(1))
        DIAG.note("ddl.rowmax_zero", mx.reshape(1))
        negs.append(torch.relu(row.max()))
    return pos, torch.stack(negs)


def loss_ddl(t, p):
    xs, xt, y = t["embeddings"], t["teacher_embeddings"], t["labels"]
    tau = p["tau"]
    pos_t, neg_t = ddl_branch(xt, y, tau)
    pos_s, neg_s = ddl_branch(xs, y, tau)
    DIAG.count("ddl.pos_teacher", pos_t.numel())
    DIAG.count("ddl.pos_student", pos_s.numel())
    loss = zero_like_graph(xs, xt)
    if pos_t.numel() > 0 and pos_s.numel() > 0:
        loss = loss + p["w_pos"] * ddl_kl(ddl_soft_hist(pos_t), ddl_soft_hist(pos_s))
    loss = loss + p["w_neg"] * ddl_kl(ddl_soft_hist(neg_t), ddl_soft_hist(neg_s))
    order = zero_like_graph(xs, xt)
    for neg in (neg_t, neg_s):
        for pos in (pos_t, pos_s):
            if pos.numel() > 0:
                order = order + (neg.mean() - pos.mean())
    return loss + p["w_ord"] * order


# --------------------------------------------------------------------------------------------
# The section-16 table: parameters (type, default), inputs read, gradients written
# --------------------------------------------------------------------------------------------
F, I, BOOL = "float", "int", "bool"


def enum(*vals):
    return ("enum",) + vals


LOSSES = OrderedDict()


def _reg(name, fn, params, reads, writes):
    LOSSES[name] = dict(fn=fn, params=OrderedDict(params), reads=reads, writes=writes)


CLS_R = ["embeddings", "labels", "weight", "[bias]"]
CLS_W = ["embeddings", "weight", "[bias]"]
COS_R = ["embeddings", "labels", "weight"]
COS_W = ["embeddings", "weight"]
_reg("softmax", loss_softmax, [], CLS_R, CLS_W)
_reg("focal", loss_focal, [("gamma", (F, 2.0)), ("alpha", (F, 1.0))], CLS_R, CLS_W)
_reg("deepid2", loss_deepid2, [("lambda", (F, 0.05)), ("m", (F, 1.0))], CLS_R, CLS_W)
_reg("contrastive", loss_contrastive, [("m_pos", (F, 0.0)), ("m_neg", (F, 1.0))],
     ["embeddings", "labels"], ["embeddings"])
_reg("triplet", loss_triplet,
     [("alpha", (F, 0.2)), ("squared", (BOOL, True)),
      ("mining", (enum("all", "semihard", "batch_hard"), "semihard")),
      ("reduction", (enum("sum", "mean", "avg_nonzero"), "sum"))],
     ["embeddings", "labels"], ["embeddings"])
_reg("lsoftmax", loss_lsoftmax, [("m", (I, 4)), ("lambda", (F, 0.0))], COS_R, COS_W)
_reg("sphereface", loss_sphereface, [("m", (I, 4)), ("lambda", (F, 0.0))], COS_R, COS_W)
_reg("normface", loss_normface, [("s", (F, 10.0))], COS_R, COS_W)
_reg("c_contrastive", loss_c_contrastive, [("m", (F, 1.0))], COS_R, COS_W)
_reg("c_triplet", loss_c_triplet, [("m", (F, 0.8))], COS_R, COS_W)
_reg("cosface", loss_cosface, [("s", (F, 64.0)), ("m", (F, 0.35))], COS_R, COS_W)
_reg("arcface", loss_arcface,
     [("s", (F, 64.0)), ("m", (F, 0.5)), ("gradient", (enum("exact", "detached"), "exact")),
      ("fallback", (enum("threshold", "easy_margin", "none"), "threshold"))], COS_R, COS_W)
_reg("combined", loss_combined,
     [("s", (F, 64.0)), ("m1", (F, 1.0)), ("m2", (F, 0.3)), ("m3", (F, 0.2))], COS_R, COS_W)
_reg("center", loss_center, [], ["embeddings", "labels", "centers"], ["embeddings"])
_reg("range", loss_range,
     [("k", (I, 2)), ("alpha", (F, 0.0001)), ("beta", (F, 0.001)), ("m", (F, 20000.0)),
      ("squared", (BOOL, True))], ["embeddings", "labels"], ["embeddings"])
_MV = [("s", (F, 32.0)), ("m", (F, 0.35)), ("t", (F, 1.2)), ("adaptive", (BOOL, True))]
_reg("sv_softmax", loss_sv_softmax, [_MV[0], _MV[2], _MV[3]], COS_R, COS_W)
_reg("mv_am", loss_mv_am, _MV, COS_R, COS_W)
_reg("mv_arc", loss_mv_arc, _MV, COS_R, COS_W)
_reg("ddl", loss_ddl,
     [("w_pos", (F, 0.1)), ("w_neg", (F, 0.02)), ("w_ord", (F, 0.5)), ("tau", (F, 0.0))],
     ["embeddings", "labels", "teacher_embeddings"], ["embeddings", "teacher_embeddings"])


def _fmt_default(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return repr(v)


def parse_value(loss, key, typ, s):
    where = "loss %s, parameter %s" % (loss, key)
    if typ == BOOL:
        if s == "true":
            return True
        if s == "false":
            return False
        raise ValueError("%s: value %r is not true/false" % (where, s))
    if typ in (F, I):
        try:
            v = float(s)
        except ValueError:
            raise ValueError("%s: value %r is not a number" % (where, s))
        if not math.isfinite(v):
            raise ValueError("%s: value %r is not finite" % (where, s))
        if typ == I:
            if v != math.floor(v):
                raise ValueError("%s: value %r is not integral" % (where, s))
            return int(v)
        return v
    if typ[0] == "enum":
        if s not in typ[1:]:
            raise ValueError("%s: value %r not in %s" % (where, s, "/".join(typ[1:])))
        return s
    raise AssertionError(typ)


def parse_params(loss, pairs):
    """pairs: list of 'key=value' strings -> full parameter dict (defaults filled in)."""
    if loss not in LOSSES:
        raise ValueError("unknown loss %r" % loss)
    spec = LOSSES[loss]["params"]
    out = OrderedDict((k, v[1]) for k, v in spec.items())
    for kv in pairs:
        if "=" not in kv:
            raise ValueError("loss %s: parameter %r is not key=value" % (loss, kv))
        k, v = kv.split("=", 1)
        if k not in spec:
            raise ValueError("loss %s: unknown parameter %r" % (loss, k))
        out[k] = parse_value(loss, k, spec[k][0], v)
    if loss in ("lsoftmax", "sphereface") and out["m"] < 1:
        raise ValueError("loss %s: m must be >= 1" % loss)
    return out


# --------------------------------------------------------------------------------------------
# Evaluation: loss + autograd gradients (the "Writes" column)
# --------------------------------------------------------------------------------------------
def input_names(loss, tensors):
    names = []
    for r in LOSSES[loss]["reads"]:
        if r.startswith("["):
            r = r[1:-1]
            if r in tensors:
                names.append(r)
        else:
            if r not in tensors:
                raise ValueError("loss %s needs input tensor %r" % (loss, r))
            names.append(r)
    return names


def grad_names(loss, tensors):
    names = []
    for w in LOSSES[loss]["writes"]:
        if w.startswith("["):
            w = w[1:-1]
            if w in tensors:
                names.append(w)
        else:
            names.append(w)
    return names


def evaluate(loss, tensors, params):
    """Returns (loss value tensor 0-d, OrderedDict grad name -> tensor)."""
    t = {}
    for n in input_names(loss, tensors):
        v = tensors[n]
        if n == "labels":
            t[n] = v.to(torch.long)
        else:
            t[n] = v.to(DT).detach().clone()
    gnames = grad_names(loss, t)
    for n in gnames:
        t[n].requires_grad_(True)
    L = LOSSES[loss]["fn"](t, params)
    grads = torch.autograd.grad(L, [t[n] for n in gnames], allow_unused=True)
    out = OrderedDict()
    for n, g in zip(gnames, grads):
        out["grad." + n] = (torch.zeros_like(t[n]) if g is None else g).detach().contiguous()
    return L.detach().reshape(()).clone(), out


def write_output(path, L, grads):
    d = OrderedDict([("loss", L.reshape(()).contiguous())])
    d.update(grads)
    save_file(dict(d), path)


# --------------------------------------------------------------------------------------------
# Self-checks: the worked examples of LOSSES.md, gradcheck
# --------------------------------------------------------------------------------------------
CHECKS = []


def check(name, got, want, tol):
    got = float(got.detach()) if torch.is_tensor(got) else float(got)
    ok = abs(got - want) <= tol
    CHECKS.append((name, got, want, tol, ok))
    return ok


def check_vec(name, got, want, tol):
    got = torch.as_tensor(got, dtype=DT).reshape(-1)
    want = torch.as_tensor(want, dtype=DT).reshape(-1)
    err = float((got - want).abs().max())
    ok = err <= tol
    CHECKS.append((name, [round(float(v), 10) for v in got], [float(v) for v in want], tol, ok))
    return ok


def _unit_rows_with_cos(cosines):
    """x = e1 and W rows unit vectors with the given cosines to e1 (in R^3)."""
    W = torch.tensor([[c, math.sqrt(1 - c * c), 0.0] for c in cosines], dtype=DT)
    return W


def selfcheck():
    CHECKS.clear()
    y0 = torch.tensor([0])
    # section 1: z = (2, 1, 0), y = 0
    t = {"embeddings": torch.tensor([[1.0]]), "labels": y0, "weight": torch.tensor([[2.0], [1.0], [0.0]])}
    check("s1 softmax CE z=(2,1,0)", loss_softmax(t, {}), 0.407606, 5e-7)
    check("s1 p_y", math.exp(-float(loss_softmax(t, {}))), 0.665241, 5e-7)
    check("s1 focal gamma=2 alpha=1", loss_focal(t, {"gamma": 2.0, "alpha": 1.0}), 0.045678, 5e-7)
    # section 2: f_i = (0,0), f_j = (0.6, 0.8), d = 1
    fi, fj = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.6, 0.8]])
    check("s2 verif same", deepid2_verif(fi, fj, torch.tensor([True]), 1.0)[0], 0.5, 1e-12)
    check("s2 verif diff m=1.5", deepid2_verif(fi, fj, torch.tensor([False]), 1.5)[0], 0.125, 1e-12)
    check("s2 verif diff m=0.8", deepid2_verif(fi, fj, torch.tensor([False]), 0.8)[0], 0.0, 1e-12)
    # deepid2 loss = mean CE + lambda * Verif (B = 2: one pair)
    W2 = torch.tensor([[0.3, -0.2], [0.1, 0.4]])
    t2 = {"embeddings": torch.cat([fi, fj]), "labels": torch.tensor([0, 1]), "weight": W2}
    ce2 = cross_entropy(torch.cat([fi, fj]) @ W2.T, torch.tensor([0, 1])).mean()
    check("s2 deepid2 = CE + lambda*0.125 (m=1.5, lambda=1)",
          loss_deepid2(t2, {"lambda": 1.0, "m": 1.5}) - ce2, 0.125, 1e-12)
    # section 3: a = (0,0), p = (0.3, 0.4), n = (0.6, 0), squared, alpha 0.2 -> 0.09
    X = torch.tensor([[0.0, 0.0], [0.3, 0.4], [0.6, 0.0]], requires_grad=True)
    D = sq_dist_matrix(X, X)
    A, P, N = triplet_indices(D, torch.tensor([0, 0, 1]), "semihard", 0.2)
    sel = [(int(a), int(p_), int(n)) for a, p_, n in zip(A, P, N)]
    CHECKS.append(("s3 semihard keeps (a=0,p=1,n=2)", sel, "contains (0,1,2)", 0, (0, 1, 2) in sel))
    L3 = triplet_from_indices(D, torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), 0.2, "sum")
    g3 = torch.autograd.grad(L3, X)[0]
    check("s3 triplet loss", L3, 0.09, 1e-12)
    check_vec("s3 dL/da", g3[0], [0.6, -0.8], 1e-12)
    check_vec("s3 dL/dp", g3[1], [0.6, 0.8], 1e-12)
    check_vec("s3 dL/dn", g3[2], [-1.2, 0.0], 1e-12)
    # section 5: |x| = 10, cosines (0.8, 0.3, -0.2), y = 0, m = 4
    check("s5 psi(0.8) (k=0)", psi(torch.tensor([0.8]), 4)[0], -0.8432, 5e-5)
    check("s5 psi(0.3) (k=1)", psi(torch.tensor([0.3]), 4)[0], -2.3448, 5e-5)
    check("s5 psi(-0.5) (k=2)", psi(torch.tensor([-0.5]), 4)[0], -4.5, 5e-5)
    check("s5 psi(0) = -3 (sign(0) edge)", psi(torch.tensor([0.0]), 4)[0], -3.0, 1e-12)
    Wc = _unit_rows_with_cos([0.8, 0.3, -0.2])
    t5 = {"embeddings": torch.tensor([[10.0, 0.0, 0.0]]), "labels": y0, "weight": Wc * torch.tensor([[2.0], [0.5], [3.0]])}
    check("s5 sphereface lambda=0", loss_sphereface(t5, {"m": 4, "lambda": 0.0}), 11.4387, 5e-5)
    check("s5 sphereface lambda=5", loss_sphereface(t5, {"m": 4, "lambda": 5.0}), 0.099767, 5e-7)
    t5b = {"embeddings": torch.tensor([[10.0, 0.0, 0.0]]), "labels": y0, "weight": Wc}
    check("s5 lsoftmax (|w|=1) lambda=0", loss_lsoftmax(t5b, {"m": 4, "lambda": 0.0}), 11.4387, 5e-5)
    # psi continuity at the thresholds cos(j pi / m)
    for m in (2, 3, 4):
        for j in range(1, m):
            th = math.cos(j * math.pi / m)
            lo = psi(torch.tensor([th - 1e-12]), m)[0]
            hi = psi(torch.tensor([th + 1e-12]), m)[0]
            check("s4 psi continuous m=%d j=%d" % (m, j), lo - hi, 0.0, 1e-9)
    # section 6 (the example is NormFace's scaled cosine softmax): s = 10 -> 0.0067604
    tc = {"embeddings": torch.tensor([[1.0, 0.0, 0.0]]), "labels": y0, "weight": Wc * torch.tensor([[2.0], [0.5], [3.0]])}
    check("s6 normface s=10", loss_normface(tc, {"s": 10.0}), 0.0067604, 5e-8)
    # c_contrastive / c_triplet on the same cosines, by hand
    # (tolerance 1e-10 here: nrm's eps 1e-12 moves unit-vector cosines by ~1e-12)
    check("s6 c_contrastive by hand", loss_c_contrastive(tc, {"m": 1.0}),
          (2 - 1.6) + max(0, 1 - (2 - 0.6)) + max(0, 1 - (2 + 0.4)), 1e-10)
    check("s6 c_triplet m=0.8 by hand", loss_c_triplet(tc, {"m": 0.8}), 0.0, 1e-12)
    check("s6 c_triplet m=1.2 by hand", loss_c_triplet(tc, {"m": 1.2}),
          max(0, 1.2 + 0.4 - 1.4) + max(0, 1.2 + 0.4 - 2.4), 1e-10)
    # section 7: cosface
    check("s7 cosface s=30 m=0.35", loss_cosface(tc, {"s": 30.0, "m": 0.35}), 0.0110477, 5e-8)
    check("s7 cosface s=64 m=0.35", loss_cosface(tc, {"s": 64.0, "m": 0.35}), 6.7726e-5, 5e-10)
    # section 8: arcface
    phi = arcface_phi(torch.tensor([0.8]), 0.5, "none")[0]
    check("s8 cos(theta+0.5) at c=0.8", phi, 0.414411, 5e-7)
    check("s8 arcface s=64 m=0.5", loss_arcface(tc, {"s": 64.0, "m": 0.5, "gradient": "exact", "fallback": "threshold"}),
          6.6043e-4, 5e-9)
    check("s8 combined (1,0.3,0.2) phi(0.8)", combined_phi(torch.tensor([0.8]), 1.0, 0.3, 0.2)[0], 0.386957, 5e-7)
    # the m1 != 1 path agrees with the identity inside the monotone region
    cc = torch.linspace(-0.9, 0.99, 7)
    a = combined_phi(cc, 1.0 + 1e-15, 0.3, 0.2)
    b = combined_phi(cc, 1.0, 0.3, 0.2)
    check("s8 combined: acos path == identity path (m1=1)", (a - b).abs().max(), 0.0, 1e-12)
    check("s8 threshold switch values", arcface_phi(torch.tensor([math.cos(math.pi - 0.5) - 1e-15]), 0.5, "threshold")[0],
          -1.11730, 5e-6)
    # exact vs detached: bit-identical forward
    gen = torch.Generator().manual_seed(3)
    xx, ww = torch.randn(6, 5, generator=gen), torch.randn(4, 5, generator=gen)
    yy = torch.tensor([0, 1, 2, 3, 0, 1])
    for fb in ("threshold", "easy_margin", "none"):
        te = {"embeddings": xx, "labels": yy, "weight": ww}
        le = loss_arcface(te, {"s": 64.0, "m": 0.5, "gradient": "exact", "fallback": fb})
        ld = loss_arcface(te, {"s": 64.0, "m": 0.5, "gradient": "detached", "fallback": fb})
        CHECKS.append(("s8 exact/detached forward bit-identical (%s)" % fb, float(le), float(ld), 0, bool(le == ld)))
    # detached-delta gradient == gradient of s*c with a constant added to the target logit
    for fb in ("threshold", "easy_margin", "none"):
        te = {"embeddings": xx.clone().requires_grad_(True), "labels": yy, "weight": ww.clone().requires_grad_(True)}
        ld = loss_arcface(te, {"s": 64.0, "m": 0.5, "gradient": "detached", "fallback": fb})
        gd = torch.autograd.grad(ld, [te["embeddings"], te["weight"]])
        with torch.no_grad():
            c0 = cosine_matrix(xx, ww)
            cy0 = c0.gather(1, yy[:, None]).squeeze(1)
            shift = 64.0 * (arcface_phi(cy0, 0.5, fb) - cy0)
        tr_ = {"embeddings": xx.clone().requires_grad_(True), "weight": ww.clone().requires_grad_(True)}
        z = 64.0 * cosine_matrix(tr_["embeddings"], tr_["weight"]) + onehot_mask(yy, 4).to(DT) * shift[:, None]
        lr_ = cross_entropy(z, yy).mean()
        gr = torch.autograd.grad(lr_, [tr_["embeddings"], tr_["weight"]])
        err = max(float((a_ - b_).abs().max()) for a_, b_ in zip(gd, gr))
        check("s8 detached grad == grad of s*c + const (%s)" % fb, err, 0.0, 1e-12)
        check("s8 detached loss == that surrogate (%s)" % fb, float(ld.detach()) - float(lr_.detach()), 0.0, 1e-12)
    # section 9: center loss
    x9 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    y9 = torch.tensor([0, 0, 1])
    c9 = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    check("s9 L_C", loss_center({"embeddings": x9, "labels": y9, "centers": c9}, {}), 2.0, 1e-12)
    nc = center_update(x9, y9, c9, 0.5)
    check_vec("s9 centre update c0", nc[0], [1 / 6, 1 / 6], 1e-12)
    check_vec("s9 centre update c1", nc[1], [1.25, 1.25], 1e-12)
    # section 10: range loss
    XA = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    XB = torch.tensor([[10.0, 0.0], [10.0, 2.0]])
    check("s10 intra A squared k=2", range_intra_class(XA, 2, True), 19.5122, 5e-5)
    check("s10 intra A non-squared k=2", range_intra_class(XA, 2, False), 4.4444, 5e-5)
    check("s10 intra B squared (k'=1)", range_intra_class(XB, 2, True), 4.0, 1e-12)
    tr = {"embeddings": torch.cat([XA, XB]), "labels": torch.tensor([0, 0, 0, 1, 1])}
    check("s10 L_inter m=100", loss_range(tr, {"k": 2, "alpha": 0.0, "beta": 1.0, "m": 100.0, "squared": True}),
          18.889, 5e-4)
    check("s10 L_intra total (A + B)", loss_range(tr, {"k": 2, "alpha": 1.0, "beta": 0.0, "m": 100.0, "squared": True}),
          19.5122 + 4.0, 5e-5)
    # section 11: MV-AM cosines (0.5, 0.45, 0.1)
    W11 = _unit_rows_with_cos([0.5, 0.45, 0.1]) * torch.tensor([[1.5], [0.7], [2.0]])
    t11 = {"embeddings": torch.tensor([[2.0, 0.0, 0.0]]), "labels": y0, "weight": W11}
    check("s11 mv_am", loss_mv_am(t11, {"s": 32.0, "m": 0.35, "t": 1.2, "adaptive": True}), 18.8800, 5e-5)
    check("s11 plain AM (cosface s=32)", loss_cosface(t11, {"s": 32.0, "m": 0.35}), 9.6001, 5e-5)
    # section 12: DDL
    check("s12 KL single 0.6 vs 0.5", ddl_kl(ddl_soft_hist(torch.tensor([0.6])), ddl_soft_hist(torch.tensor([0.5]))),
          0.49989, 5e-6)
    check("s12 KL {0.7,0.5} vs {0.6,0.4}",
          ddl_kl(ddl_soft_hist(torch.tensor([0.7, 0.5])), ddl_soft_hist(torch.tensor([0.6, 0.4]))), 0.27774, 5e-6)
    order = sum(n - q for n in (0.2, 0.3) for q in (0.6, 0.5))
    check("s12 order loss", order, -1.2, 1e-12)
    # the same order loss through loss_ddl: build features whose similarities give these means
    # (KL weights 0 so only the order term remains).
    td = _ddl_order_example()
    check("s12 order loss via loss_ddl", loss_ddl(td, {"w_pos": 0.0, "w_neg": 0.0, "w_ord": 1.0, "tau": 0.0}),
          -1.2, 1e-10)
    return CHECKS


def _vec_with_cos(c):
    return [c, math.sqrt(1 - c * c), 0.0]


def _ddl_order_example():
    # B = 2, labels (0, 1): no positives... use B = 3 with labels (0, 0, 1):
    # positives: pair (0,1); negatives: row0 -> max(0, cos(f0, f2)), row1 -> max(0, cos(f1, f2)), row2 -> 0.
    # Teacher: cos(f0,f1) = 0.6, neg mean 0.2 -> row values (0.3, 0.3, 0) mean 0.2.
    # Student: cos(f0,f1) = 0.5, neg mean 0.3 -> row values (0.45, 0.45, 0) mean 0.3.
    def feats(cpos, cneg):
        # f0, f1 symmetric about e1 with angle acos(cpos) between them; f2 in the plane orthogonal
        # direction mix so that cos(f0,f2) = cos(f1,f2) = cneg.
        half = math.acos(cpos) / 2
        f0 = torch.tensor([math.cos(half), math.sin(half), 0.0])
        f1 = torch.tensor([math.cos(half), -math.sin(half), 0.0])
        a = cneg / math.cos(half)
        f2 = torch.tensor([a, 0.0, math.sqrt(1 - a * a)])
        return torch.stack([f0, f1, f2])

    return {"embeddings": feats(0.5, 0.45), "teacher_embeddings": feats(0.6, 0.3), "labels": torch.tensor([0, 0, 1])}


def run_gradcheck(loss, tensors, params):
    t = {}
    names = input_names(loss, tensors)
    for n in names:
        t[n] = tensors[n].to(torch.long) if n == "labels" else tensors[n].to(DT).clone()
    gnames = grad_names(loss, t)

    def fn(*args):
        tt = dict(t)
        for n, a in zip(gnames, args):
            tt[n] = a
        return LOSSES[loss]["fn"](tt, params)

    args = tuple(t[n].clone().requires_grad_(True) for n in gnames)
    was = DIAG.on
    DIAG.on = False
    try:
        ok = torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6, rtol=1e-4)
    except Exception as e:  # noqa: BLE001
        print("gradcheck failed for", loss, ":", str(e)[:2000])
        ok = False
    DIAG.on = was
    return bool(ok)


# --------------------------------------------------------------------------------------------
# Fixture inputs
# --------------------------------------------------------------------------------------------
def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _uniform(g, shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=g, dtype=DT)


def x_with_target_cos(g, W, y, cos_targets, norms):
    """Embeddings whose cosine with their target class row W[y_i] is cos_targets[i]."""
    B = y.shape[0]
    D = W.shape[1]
    wy = W[y] / row_norm(W[y])[:, None]
    u = torch.randn(B, D, generator=g, dtype=DT)
    u = u - (u * wy).sum(1, keepdim=True) * wy
    u = u / row_norm(u)[:, None]
    c = torch.as_tensor(cos_targets, dtype=DT)
    x = c[:, None] * wy + torch.sqrt(1 - c * c)[:, None] * u
    return x * torch.as_tensor(norms, dtype=DT)[:, None]


def gen_linear(seed, B=8, D=6, C=6, bias=False, wscale=0.8):
    g = _gen(seed)
    t = {"embeddings": torch.randn(B, D, generator=g, dtype=DT),
         "labels": torch.randint(0, C, (B,), generator=g),
         "weight": wscale * torch.randn(C, D, generator=g, dtype=DT)}
    if bias:
        t["bias"] = 0.5 * torch.randn(C, generator=g, dtype=DT)
    return t


def gen_cosine_head(seed, cos_pool, B=10, D=6, C=7, norm_lo=0.6, norm_hi=3.0):
    """Raw (unnormalised) weights and embeddings with target cosines drawn from cos_pool."""
    g = _gen(seed)
    W = torch.randn(C, D, generator=g, dtype=DT) * _uniform(g, (C, 1), 0.5, 2.0)
    y = torch.randint(0, C, (B,), generator=g)
    idx = torch.randperm(len(cos_pool), generator=g)
    cos = []
    for i in range(B):
        c0 = cos_pool[int(idx[i % len(cos_pool)])]
        c = c0 + 0.1 * (1.0 - abs(c0)) * float(torch.randn(1, generator=g))
        cos.append(max(-0.9995, min(0.9995, c)))
    norms = _uniform(g, (B,), norm_lo, norm_hi)
    x = x_with_target_cos(g, W, y, cos, norms)
    return {"embeddings": x, "labels": y, "weight": W}


def gen_clusters(seed, labels, D=6, noise=0.5, scale_rows=True, dup=None):
    g = _gen(seed)
    y = torch.tensor(labels)
    C = int(y.max()) + 1
    centres = torch.randn(C, D, generator=g, dtype=DT)
    x = centres[y] + noise * torch.randn(len(labels), D, generator=g, dtype=DT)
    if scale_rows:
        x = x * _uniform(g, (len(labels), 1), 0.5, 2.0)
    if dup is not None:
        for a, b in dup:
            x[b] = x[a]
    return {"embeddings": x, "labels": y}


def gen_center(seed, B=10, D=5, C=6):
    g = _gen(seed)
    return {"embeddings": torch.randn(B, D, generator=g, dtype=DT),
            "labels": torch.tensor([0, 0, 0, 1, 1, 3, 3, 3, 4, 2][:B]),
            "centers": 0.7 * torch.randn(C, D, generator=g, dtype=DT)}


def gen_range(seed, labels, D=5, noise=1.0, spread=3.0):
    g = _gen(seed)
    y = torch.tensor(labels)
    C = int(y.max()) + 1
    centres = spread * torch.randn(C, D, generator=g, dtype=DT)
    x = centres[y] + noise * torch.randn(len(labels), D, generator=g, dtype=DT)
    return {"embeddings": x, "labels": y}


def gen_ddl(seed, labels, D=6, noise=0.35, student_noise=0.3, shift_scale=1.2):
    g = _gen(seed)
    y = torch.tensor(labels)
    C = int(y.max()) + 1
    centres = torch.randn(C, D, generator=g, dtype=DT)
    # positive offset so that most cosines are positive (negatives' row maxima > 0)
    shift = shift_scale * torch.randn(1, D, generator=g, dtype=DT)
    base = centres[y] + noise * torch.randn(len(labels), D, generator=g, dtype=DT) + shift
    teacher = base * _uniform(g, (len(labels), 1), 0.5, 2.0)
    student = (base + student_noise * torch.randn(len(labels), D, generator=g, dtype=DT)) * _uniform(
        g, (len(labels), 1), 0.5, 2.0)
    return {"embeddings": student, "labels": y, "teacher_embeddings": teacher}


# Target-cosine pools for the cosine heads: spread over the branches of each loss.
POOL_WIDE = [-0.95, -0.8, -0.5, -0.2, 0.1, 0.35, 0.55, 0.75, 0.9]
POOL_ARC = [-0.97, -0.93, -0.85, -0.6, -0.3, -0.1, 0.15, 0.4, 0.65, 0.85, 0.95]
POOL_PSI = [-0.9, -0.8, -0.6, -0.3, 0.2, 0.4, 0.6, 0.8, 0.95]
POOL_COMB = [-0.998, -0.97, -0.9, -0.6, -0.3, 0.0 + 0.05, 0.3, 0.6, 0.85, 0.95]
POOL_HIGH = [0.45, 0.55, 0.65, 0.75, 0.85, 0.92]
POOL_MV = [-0.3, 0.0 + 0.05, 0.2, 0.35, 0.5, 0.7, 0.9]

LAB12 = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5]
LAB10 = [0, 0, 0, 1, 1, 2, 2, 3, 4, 5]

# Case table: (case name, loss, params string, generator(seed) -> tensors,
#              names of diagnostics that must show both branches, extra requirement callable)
CASES = []


def case(name, loss, params, gen, both=(), min_margin=1e-3, require=None, pos_only=(), neg_only=(), seed_key=None):
    """both: diagnostics that must show values on both sides of their switch; pos_only / neg_only:
    diagnostics that must be all > 0 / all <= 0 (e.g. a hinge that must be active / inactive).
    Case names keep to [a-z0-9_] (a '.' in a parameter value is written 'p')."""
    name = name.replace(".", "p")
    assert all(ch.isalnum() or ch == "_" for ch in name), name
    CASES.append(dict(name=name, loss=loss, params=params, gen=gen, both=tuple(both), min_margin=min_margin,
                      require=require, pos_only=tuple(pos_only), neg_only=tuple(neg_only),
                      seed_key=seed_key or name))


def _counts_at_least(**kw):
    def req(counts, summ):
        return all(counts.get(k, 0) >= v for k, v in kw.items())
    return req


def _sides_at_least(name, pos=0, neg=0, **counts_kw):
    """At least `pos` values of diagnostic `name` on the > 0 side and `neg` on the <= 0 side."""
    inner = _counts_at_least(**counts_kw)

    def req(counts, summ):
        if name not in summ:
            return False
        return summ[name][0] >= pos and summ[name][1] >= neg and inner(counts, summ)
    return req


def build_cases():
    CASES.clear()
    # softmax / focal
    case("softmax_nobias", "softmax", "", lambda s: gen_linear(s))
    case("softmax_bias", "softmax", "", lambda s: gen_linear(s, bias=True))
    case("focal_default", "focal", "", lambda s: gen_linear(s, bias=True))
    case("focal_gamma0.5", "focal", "gamma=0.5", lambda s: gen_linear(s, bias=True))
    case("focal_gamma0.5_alpha0.25_nobias", "focal", "gamma=0.5 alpha=0.25", lambda s: gen_linear(s))
    # deepid2 (raw features, distances around m)
    dl = [0, 0, 0, 1, 1, 2, 2, 3, 4]

    def gen_deepid2(s, bias):
        t = gen_clusters(s, dl, D=5, noise=0.35, scale_rows=False)
        for k, v in gen_linear(s, B=len(dl), D=5, C=5, bias=bias).items():
            if k in ("weight", "bias"):
                t[k] = v
        t["embeddings"] = 0.6 * t["embeddings"]
        return t

    dreq = _sides_at_least("deepid2.neg_hinge", pos=3, neg=3)
    case("deepid2_nobias", "deepid2", "", lambda s: gen_deepid2(s, False), require=dreq)
    case("deepid2_bias", "deepid2", "", lambda s: gen_deepid2(s, True), require=dreq)
    case("deepid2_bias_lambda0.5_m1.5", "deepid2", "lambda=0.5 m=1.5", lambda s: gen_deepid2(s, True), require=dreq)
    # contrastive
    case("contrastive_default", "contrastive", "", lambda s: gen_clusters(s, LAB10, noise=0.6),
         both=["contrastive.neg_hinge"])
    case("contrastive_margins", "contrastive", "m_pos=0.3 m_neg=1.2", lambda s: gen_clusters(s, LAB10, noise=0.6),
         both=["contrastive.pos_hinge", "contrastive.neg_hinge"])
    case("contrastive_coincident", "contrastive", "", lambda s: gen_clusters(s, LAB10, noise=0.6, dup=[(0, 1)]),
         both=["contrastive.neg_hinge"], require=_counts_at_least(**{"contrastive.coincident_pairs": 1}))
    # triplet: every mining x reduction x squared
    for mining in ("all", "semihard", "batch_hard"):
        for red in ("sum", "mean", "avg_nonzero"):
            for sq in ("true", "false"):
                params = "mining=%s reduction=%s squared=%s" % (mining, red, sq)
                if (mining, red, sq) == ("semihard", "sum", "true"):
                    params = ""  # the defaults
                noise = 0.9 if mining == "batch_hard" else 0.7
                if mining == "semihard":  # all kept triplets are active; want several of them
                    req = _counts_at_least(**{"triplet.kept": 4})
                else:  # some active and some inactive hinges
                    req = _sides_at_least("triplet.hinge", pos=3, neg=2)
                case("triplet_%s_%s_%s" % (mining, red, "sq" if sq == "true" else "nonsq"), "triplet", params,
                     (lambda nz: (lambda s: gen_clusters(s, LAB12, noise=nz)))(noise), require=req)
    case("triplet_alpha0.05_nonsq_semihard_avg_nonzero", "triplet",
         "alpha=0.05 squared=false reduction=avg_nonzero", lambda s: gen_clusters(s, LAB12, noise=0.7),
         require=_counts_at_least(**{"triplet.kept": 3}))
    for mining in ("all", "semihard", "batch_hard"):
        case("triplet_coincident_%s" % mining, "triplet", "mining=%s reduction=avg_nonzero" % mining,
             lambda s: gen_clusters(s, LAB12, noise=0.8, dup=[(0, 1)]),
             both=["triplet.hinge"] if mining != "semihard" else [],
             require=_counts_at_least(**{"triplet.kept": 3, "triplet.coincident_pairs": 1}))
    case("triplet_no_triplets", "triplet", "mining=all reduction=mean",
         lambda s: gen_clusters(s, list(range(8)), noise=0.5))
    # lsoftmax
    for m in (1, 2, 3, 4):
        case("lsoftmax_m%d" % m, "lsoftmax", "" if m == 4 else "m=%d" % m,
             lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=1.5),
             require=_counts_at_least(**{("psi.k=%d" % kk): 1 for kk in range(m)}))
    case("lsoftmax_m4_lambda5", "lsoftmax", "m=4 lambda=5", lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=1.5),
         require=_counts_at_least(**{("psi.k=%d" % kk): 1 for kk in range(4)}))
    case("lsoftmax_m2_lambda2.5", "lsoftmax", "m=2.0 lambda=2.5",
         lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=1.5),
         require=_counts_at_least(**{"psi.k=0": 1, "psi.k=1": 1}))
    # sphereface
    case("sphereface_default", "sphereface", "", lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=2.0),
         require=_counts_at_least(**{("psi.k=%d" % kk): 1 for kk in range(4)}))
    case("sphereface_lambda5", "sphereface", "lambda=5", lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=2.0),
         require=_counts_at_least(**{("psi.k=%d" % kk): 1 for kk in range(4)}))
    case("sphereface_m3", "sphereface", "m=3", lambda s: gen_cosine_head(s, POOL_PSI, norm_lo=0.5, norm_hi=2.0),
         require=_counts_at_least(**{("psi.k=%d" % kk): 1 for kk in range(3)}))
    # normface / agents
    case("normface_default", "normface", "", lambda s: gen_cosine_head(s, POOL_WIDE))
    case("normface_s16", "normface", "s=16", lambda s: gen_cosine_head(s, POOL_WIDE))
    case("c_contrastive_default", "c_contrastive", "", lambda s: gen_cosine_head(s, POOL_WIDE),
         both=["c_contrastive.hinge"])
    case("c_contrastive_m1.5", "c_contrastive", "m=1.5", lambda s: gen_cosine_head(s, POOL_WIDE),
         both=["c_contrastive.hinge"])
    case("c_triplet_default", "c_triplet", "", lambda s: gen_cosine_head(s, POOL_WIDE), both=["c_triplet.hinge"])
    case("c_triplet_m0.4", "c_triplet", "m=0.4", lambda s: gen_cosine_head(s, POOL_WIDE), both=["c_triplet.hinge"])
    # cosface
    case("cosface_default", "cosface", "", lambda s: gen_cosine_head(s, POOL_WIDE))
    case("cosface_s30", "cosface", "s=30 m=0.35", lambda s: gen_cosine_head(s, POOL_WIDE))
    case("cosface_high_cos", "cosface", "", lambda s: gen_cosine_head(s, POOL_HIGH))
    # arcface: gradient x fallback on the same kind of inputs
    for grad in ("exact", "detached"):
        for fb in ("threshold", "easy_margin", "none"):
            parts = []
            if grad != "exact":
                parts.append("gradient=%s" % grad)
            if fb != "threshold":
                parts.append("fallback=%s" % fb)
            bothn = {"threshold": ["arcface.threshold"], "easy_margin": ["arcface.easy_margin"], "none": []}[fb]
            # exact and detached cases of one fallback share their inputs (same seed key)
            case("arcface_%s_%s" % (grad, fb), "arcface", " ".join(parts), lambda s: gen_cosine_head(s, POOL_ARC, B=12),
                 both=bothn, seed_key="arcface_" + fb)
    case("arcface_high_cos", "arcface", "", lambda s: gen_cosine_head(s, POOL_HIGH))
    case("arcface_s32_m0.35", "arcface", "s=32 m=0.35", lambda s: gen_cosine_head(s, POOL_ARC, B=12),
         both=["arcface.threshold"])
    # combined
    case("combined_default", "combined", "", lambda s: gen_cosine_head(s, POOL_COMB, B=12))
    case("combined_m2_0.5_m3_0", "combined", "m1=1 m2=0.5 m3=0", lambda s: gen_cosine_head(s, POOL_COMB, B=12))
    case("combined_cm2_0.9_0.4_0.15", "combined", "m1=0.9 m2=0.4 m3=0.15", lambda s: gen_cosine_head(s, POOL_COMB, B=12),
         require=_counts_at_least(**{"combined.k=0": 1, "combined.k=1": 1}))
    case("combined_m1_2_0.4_0.1", "combined", "s=32 m1=2 m2=0.4 m3=0.1",
         lambda s: gen_cosine_head(s, POOL_COMB, B=12),
         require=_counts_at_least(**{"combined.k=0": 1, "combined.k=1": 1, "combined.k=2": 1}))
    # center
    case("center_default", "center", "", lambda s: gen_center(s))
    # range
    rl = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]  # class 3 singleton, class 2 one pair (k'=1)
    case("range_default", "range", "", lambda s: gen_range(s, rl), require=_counts_at_least(**{"range.singletons": 1}))
    case("range_nonsquared", "range", "squared=false alpha=1e-4 beta=1e-3", lambda s: gen_range(s, rl))
    case("range_unit_weights_active", "range", "alpha=0.5 beta=0.5 m=30",
         lambda s: gen_range(s, rl, spread=2.0), pos_only=["range.inter_hinge"])
    case("range_unit_weights_inactive", "range", "alpha=0.5 beta=0.5 m=2 squared=false",
         lambda s: gen_range(s, rl, spread=3.0), neg_only=["range.inter_hinge"])
    case("range_k3_nonsquared_active", "range", "k=3 alpha=1 beta=1 m=6 squared=false",
         lambda s: gen_range(s, rl, spread=2.0), pos_only=["range.inter_hinge"])
    case("range_one_identity", "range", "alpha=1 beta=1 m=5", lambda s: gen_range(s, [0, 0, 0, 0, 0, 0]))
    # sv / mv
    case("sv_softmax_default", "sv_softmax", "", lambda s: gen_cosine_head(s, POOL_MV), both=["mv.hard"])
    case("sv_softmax_fixed", "sv_softmax", "adaptive=false", lambda s: gen_cosine_head(s, POOL_MV), both=["mv.hard"])
    case("mv_am_default", "mv_am", "", lambda s: gen_cosine_head(s, POOL_MV), both=["mv.hard"])
    case("mv_am_fixed_t1.12", "mv_am", "adaptive=false t=1.12", lambda s: gen_cosine_head(s, POOL_MV),
         both=["mv.hard"])
    case("mv_arc_default", "mv_arc", "", lambda s: gen_cosine_head(s, POOL_MV), both=["mv.hard"])
    case("mv_arc_fixed", "mv_arc", "adaptive=false", lambda s: gen_cosine_head(s, POOL_MV), both=["mv.hard"])
    # ddl
    ddl_lab = [0, 0, 0, 1, 1, 1, 2, 2, 3, 4]
    # some rows whose negative maximum is < 0 (s_i = 0 by the max(0, .)) as well as positive ones
    ddl_req = _sides_at_least("ddl.rowmax_zero", pos=10, neg=1, **{"ddl.pos_teacher": 2, "ddl.pos_student": 2})
    case("ddl_default", "ddl", "", lambda s: gen_ddl(s, ddl_lab, shift_scale=0.7), require=ddl_req)
    case("ddl_tau0.3", "ddl", "tau=0.3", lambda s: gen_ddl(s, ddl_lab, shift_scale=0.7), both=["ddl.pos_tau"],
         require=ddl_req)
    case("ddl_weights", "ddl", "w_pos=1 w_neg=1 w_ord=0.25", lambda s: gen_ddl(s, ddl_lab),
         require=_counts_at_least(**{"ddl.pos_teacher": 2, "ddl.pos_student": 2}))
    case("ddl_no_positives", "ddl", "", lambda s: gen_ddl(s, list(range(8))))
    return CASES


def diag_ok(spec, summ, counts):
    """(ok, min_margin) for a generated case."""
    mm = math.inf
    for name, (npos, nneg, amin) in summ.items():
        if name == "range.eps_clamp":
            continue
        mm = min(mm, amin)
    for name in spec["both"]:
        if name not in summ or summ[name][0] == 0 or summ[name][1] == 0:
            return False, mm
    for name in spec["pos_only"]:
        if name not in summ or summ[name][1] != 0:
            return False, mm
    for name in spec["neg_only"]:
        if name not in summ or summ[name][0] != 0:
            return False, mm
    if spec["require"] is not None and not spec["require"](counts, summ):
        return False, mm
    return mm >= spec["min_margin"], mm


def generate_case(spec, tries=64):
    best = None
    for seed in range(tries):
        t = spec["gen"](1000 * (zlib.crc32(spec["seed_key"].encode()) % 1000) + seed)
        params = parse_params(spec["loss"], spec["params"].split())
        DIAG.reset()
        DIAG.on = True
        try:
            evaluate(spec["loss"], t, params)
        finally:
            DIAG.on = False
        summ, counts = DIAG.summary(), dict(DIAG.counts)
        ok, mm = diag_ok(spec, summ, counts)
        if ok and (best is None or mm > best[1]):
            best = (t, mm, summ, counts, seed)
            if mm >= 1e-2:
                break
    if best is None:
        raise RuntimeError("no acceptable input found for case %s; last diagnostics: %s %s"
                           % (spec["name"], summ, counts))
    return best


def make_fixtures(outdir):
    os.makedirs(outdir, exist_ok=True)
    build_cases()
    rows = []
    report = []
    first_of_loss = {}
    generated = [(spec, generate_case(spec)) for spec in CASES]  # all inputs first: fail before deleting
    for old in os.listdir(outdir):
        if old.endswith(".safetensors") or old == "cases.tsv":
            os.remove(os.path.join(outdir, old))
    for spec, gen in generated:
        t, mm, summ, counts, seed = gen
        t = {k: v.contiguous() for k, v in t.items()}
        loss = spec["loss"]
        params = parse_params(loss, spec["params"].split())
        # re-check diagnostics on the rounded inputs
        DIAG.reset()
        DIAG.on = True
        L, grads = evaluate(loss, t, params)
        DIAG.on = False
        summ, counts = DIAG.summary(), dict(DIAG.counts)
        ok, mm = diag_ok(spec, summ, counts)
        assert ok, (spec["name"], summ, counts)
        assert torch.isfinite(L) and all(torch.isfinite(g).all() for g in grads.values()), spec["name"]
        names = input_names(loss, t)
        save_file({n: t[n] for n in names}, os.path.join(outdir, spec["name"] + ".in.safetensors"))
        write_output(os.path.join(outdir, spec["name"] + ".out.safetensors"), L, grads)
        rows.append("%s\t%s\t%s" % (spec["name"], loss, spec["params"]))
        report.append((spec["name"], loss, spec["params"], float(L), mm, summ, counts))
        first_of_loss.setdefault(loss, (t, params))
    with open(os.path.join(outdir, "cases.tsv"), "w") as fh:
        fh.write("\n".join(rows) + "\n")
    return report, first_of_loss


def verify(outdir, rtol=0.0):
    """Re-evaluate every case from its files and cases.tsv; compare with the stored outputs."""
    bad = 0
    n = 0
    with open(os.path.join(outdir, "cases.tsv")) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            name, loss, params = line.split("\t")
            t = load_file(os.path.join(outdir, name + ".in.safetensors"))
            exp = load_file(os.path.join(outdir, name + ".out.safetensors"))
            L, grads = evaluate(loss, t, parse_params(loss, params.split()))
            got = OrderedDict([("loss", L)])
            got.update(grads)
            errs = compare_dicts(exp, got)
            n += 1
            worst = max(errs.values()) if errs else 0.0
            if set(exp) != set(got) or worst > rtol:
                bad += 1
                print("MISMATCH", name, errs, sorted(exp), sorted(got))
    print("verify: %d cases, %d mismatches" % (n, bad))
    return bad == 0


def compare_dicts(exp, got):
    """Per tensor: max |got - exp| / max(max |exp|, 1e-300) (norm-wise relative error)."""
    errs = OrderedDict()
    for k in exp:
        if k not in got:
            errs[k] = math.inf
            continue
        e, g = exp[k].to(DT), got[k].to(DT)
        if e.shape != g.shape:
            errs[k] = math.inf
            continue
        scale = max(float(e.abs().max()) if e.numel() else 0.0, 1e-300)
        errs[k] = float((e - g).abs().max()) / scale if e.numel() else 0.0
    for k in got:
        if k not in exp:
            errs[k] = math.inf
    return errs


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def cmd_list(_args):
    for name, spec in LOSSES.items():
        ps = " ".join("%s=%s" % (k, _fmt_default(v[1])) for k, v in spec["params"].items())
        print("%s\t%s\t%s" % (name, ps, ",".join(spec["reads"])))


def cmd_eval(args):
    t = load_file(args.input)
    params = parse_params(args.loss, args.param or [])
    L, grads = evaluate(args.loss, t, params)
    write_output(args.output, L, grads)
    print("loss = %.17g" % float(L))


def cmd_compare(args):
    exp, got = load_file(args.expected), load_file(args.actual)
    errs = compare_dicts(exp, got)
    ok = True
    for k, e in errs.items():
        flag = "ok" if e <= args.rtol else "FAIL"
        ok &= e <= args.rtol
        print("%-28s %.3e %s" % (k, e, flag))
    sys.exit(0 if ok else 1)


def print_checks(checks):
    print("\n=== Worked examples of LOSSES.md ===")
    nok = 0
    for name, got, want, tol, ok in checks:
        nok += ok
        print("%-4s %-52s got %-26s want %-14s tol %s" % ("ok" if ok else "FAIL", name, got, want, tol))
    print("%d/%d worked-example checks passed" % (nok, len(checks)))
    return nok == len(checks)


def cmd_selfcheck(_args):
    ok = print_checks(selfcheck())
    sys.exit(0 if ok else 1)


def cmd_make_fixtures(args):
    print("torch", torch.__version__)
    ok = print_checks(selfcheck())
    if not ok:
        sys.exit("worked-example self-checks failed; fixtures not written")
    report, first = make_fixtures(args.out)
    print("\n=== Cases (%d) ===" % len(report))
    print("%-46s %-13s %-44s %-22s %-9s %s" % ("case", "loss", "params", "loss value", "min kink", "diagnostics"))
    for name, loss, params, L, mm, summ, counts in report:
        d = []
        for k, (npos, nneg, amin) in summ.items():
            d.append("%s:+%d/-%d" % (k, npos, nneg))
        for k, v in counts.items():
            d.append("%s=%d" % (k, v))
        print("%-46s %-13s %-44s %-22.15g %-9.2e %s" % (name, loss, params or "(defaults)", L, mm, " ".join(d)))
    print("\n=== gradcheck (float64) ===")
    # Every case whose gradient is the true derivative of its value at a smooth point:
    # skipped are gradient=detached (not a derivative by design) and the coincident-point cases
    # (they sit on the section-0 cone tip on purpose, where the defined gradient is a subgradient).
    allok = True
    ran = set()
    for spec in CASES:
        name, loss = spec["name"], spec["loss"]
        if "coincident" in name or "detached" in name:
            print("skip %-46s (%s)" % (name, "coincident points: section-0 subgradient" if "coincident" in name
                                       else "detached-delta gradient is not the derivative"))
            continue
        t = load_file(os.path.join(args.out, name + ".in.safetensors"))
        ok = run_gradcheck(loss, t, parse_params(loss, spec["params"].split()))
        allok &= ok
        ran.add(loss)
        print("%-4s %-46s %s" % ("ok" if ok else "FAIL", name, loss))
    missing = [l for l in LOSSES if l not in ran]
    assert not missing, missing
    vok = verify(args.out)
    print("\n=== numpy cross-check of every loss value (crosscheck_numpy.py) ===")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import crosscheck_numpy
    try:
        crosscheck_numpy.sys.argv = ["crosscheck_numpy.py", args.out]
        crosscheck_numpy.main()
    except SystemExit as e:
        vok &= not e.code
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print("fixtures: %d files, %d bytes in %s" % (len(os.listdir(args.out)), size, args.out))
    if not (allok and vok):
        sys.exit(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list").set_defaults(fn=cmd_list)
    e = sub.add_parser("eval")
    e.add_argument("--loss", required=True)
    e.add_argument("--param", action="append")
    e.add_argument("--input", required=True)
    e.add_argument("--output", required=True)
    e.set_defaults(fn=cmd_eval)
    c = sub.add_parser("compare")
    c.add_argument("expected")
    c.add_argument("actual")
    c.add_argument("--rtol", type=float, default=1e-9)
    c.set_defaults(fn=cmd_compare)
    sub.add_parser("selfcheck").set_defaults(fn=cmd_selfcheck)
    default_out = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "losses",
                                                "tests", "fixtures", "torch"))
    mf = sub.add_parser("make_fixtures")
    mf.add_argument("--out", default=default_out)
    mf.set_defaults(fn=cmd_make_fixtures)
    v = sub.add_parser("verify")
    v.add_argument("--dir", default=default_out)
    v.set_defaults(fn=lambda a: sys.exit(0 if verify(a.dir) else 1))
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
