"""Query-side ideas for the colloquial questions, measured against the search of 2026-11-28.

Re-implements ``Searcher.search`` as it was before the sample questions (knowledge/samples.py)
on whole score arrays (the FAISS indexes are exact, so the baseline row reproduces the
"hybrid, no samples" row of benchmarks/retrieval.py) and varies one thing at a time. None of
these rows reached 0.65; the sample questions did (0.860), so this script is the record of what
was tried before them:

1. article-level evidence (best passage + lambda * second best, or a softmax-sum);
2. several query vectors on the dense side (restored / as typed / with legal terms);
3. a separate BM25 weight for the legal-term expansion, without junction bigrams;
4. dropping or down-weighting syllable bigrams made of very common syllables;
5. title-vector variants (heading without the law's name; max / mean of both);
5b. lexicon matching that respects the diacritics the citizen typed
   ("đất cho" no longer matches "dắt chó", nor "mấy cây" "máy cày"): shipped in 54404ba, so
   every row now runs it and its own row is gone (results/colloquial_ideas.json predates that);
6. the legal-term expansion matched against article headings only (dense, BM25);
7. e5 "passage: " prefix on the query; candidate pool sizes;
8. the best of 4 + 5b (+ softmax-sum) with a small grid of fusion weights;
9. article centroid vectors (mean of the passage vectors);
10. cosines on a fixed scale instead of per-query min-max;
11. heading similarity from the expanded query;
12. an "everyday" vector per article: its heading, then the lexicon's everyday phrases whose
    legal terms best match that heading (BM25 over headings, top 3 articles per phrase), in
    place of the heading vector, or beside it (mean / max);
13. dense pseudo-relevance feedback (Rocchio): the query vector plus beta times the mean of the
    m best passages of a first ranking, ranked again.
14. BM25 over whole articles (heading and every passage as one document, both fields) as a
    fourth signal whose weight comes from the passage BM25.
15. a linear query adapter: q' = normalise(q + qM), M (384×384) fitted so that each
    everyday phrase of the lexicon, encoded as a query, lands near the heading vectors of the
    articles its legal terms point to (the row-12 pairs: BM25 over headings, top 3), with an
    L2 penalty on M; q' then ranks both passages and headings. Trained on the lexicon only.
    15b adds every heading, encoded as a query, as a pair with its own article (to hold the
    statute-like questions in place); 15c uses q' for the headings only (passages keep q),
    with the heading weight raised or not; 15d takes each phrase's articles from BM25 over the
    passages, and/or also puts each phrase in two chat sentences.
    ``--paired`` compares named rows with the baseline question by question (bootstrap
    interval of the difference), since most rows differ by less than the sets' noise.

Tuning set = ALQAC dev (accented + unaccented) + odd-numbered colloquial questions
(accented + unaccented); even-numbered colloquial questions are reported apart.
Nothing reached 0.65 accented on the colloquial set (best 0.634, row 15, whose held-out
even half did not move), so the search itself is unchanged; results in
results/colloquial_ideas.json.

    .venv/bin/python benchmarks/colloquial_ideas.py [name prefix ...]   # ~45 min, all rows
    .venv/bin/python benchmarks/colloquial_ideas.py --paired "full row name" ...  # vs baseline
"""

from __future__ import annotations

import itertools
import pickle
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from common import mrr_interval, question_sets, save, table

from knowledge.evaluate import score_ranking
from knowledge.fuse import linear_fusion, minmax
from knowledge.search import Searcher, _top_positive
from knowledge.sparse import terms


@dataclass(frozen=True)
class Config:
    name: str = "baseline"
    dense_weight: float = 0.5
    title_weight: float = 0.1
    # 1. article evidence
    agg: str = "none"  # none | fused2 | sep2 | softmax
    lam: float = 0.0
    temp: float = 0.05
    # 2. dense multi-query
    dense_mode: str = "restored"  # restored | max:a,b | mean:a,b
    dense_mix: float = 0.5  # weight of the second vector in "mean"
    # 3. expansion weight
    exp_weight: float = 1.0  # 1.0 + joined=True reproduces the shipped query
    joined: bool = True
    # 4. common-syllable bigrams
    stop_df: float = 1.0  # syllables in more than this share of passages count as common
    stop_bigram: str = "keep"  # keep | drop_both | drop_any | down_both
    stop_factor: float = 0.5
    # 5. title vectors
    title_mode: str = "heading"  # heading | article | max | mean | centroid… | everyday…
    # 6. legal-term expansion matched against article titles only
    xtitle_dense: float = 0.0  # weight of cos(extras-only vector, title vectors)
    xtitle_bm25: float = 0.0  # weight of BM25(extras-only, title field)
    # 7. pools and the e5 prefix of the query
    candidates: int = 100
    title_candidates: int = 30
    prefix: str = "query"  # query | passage (symmetric use of e5)
    centroid_weight: float = 0.0  # article centroid similarity as a fourth signal
    # 10. fixed-range normalisation of the cosines: (cos - pool min) / fixed range, so a
    # flat (unsure) dense ranking weighs less than a peaked one
    dense_range: float = 0.0  # 0 = per-query min-max (shipped)
    title_query: str = "restored"  # restored | expanded | mean (vector compared with headings)
    # 13. dense pseudo-relevance feedback (Rocchio): the query vector plus prf_beta times the
    # mean of the prf_m best passages of a first ranking, then ranked again
    prf_m: int = 0
    prf_beta: float = 0.0
    # 14. BM25 over whole articles (heading + every passage) as a fourth signal, its weight
    # taken from the passage BM25
    article_bm25: float = 0.0
    # 15. linear query adapter fitted on the lexicon's (everyday phrase, article) pairs
    adapter_decay: float = 0.0  # 0 = no adapter
    adapter_epochs: int = 200
    adapter_anchor: float = 0.0  # weight of (heading as a query -> its own article) pairs
    adapter_titles_only: bool = False  # adapted vector for headings, the raw one for passages
    # 15d. where the pairs' articles come from (BM25 of the legal terms over the headings or
    # over the passages) and whether each phrase is also put in chat sentences
    adapter_pairs: str = "headings"  # headings | passages | headings+chat | passages+chat


class Lab:
    def __init__(self) -> None:
        self.s = Searcher()
        s = self.s
        self.vectors = np.asarray(s.vectors)
        self.n_articles = len(s.title_vectors)
        self.sets = question_sets(test=False)
        self.memo: dict[str, np.ndarray] = {}
        # document frequency of each accented / folded syllable
        acc = s.sparse.accented
        df = np.diff(acc.weights.tocsc().indptr)
        n = acc.weights.shape[0]
        self.df_acc = {t: df[i] / n for t, i in acc.vocab.items() if "_" not in t}
        fo = s.sparse.folded
        dff = np.diff(fo.weights.tocsc().indptr)
        self.df_fold = {t: dff[i] / n for t, i in fo.vocab.items() if "_" not in t}
        self.alt_titles: np.ndarray | None = None
        # query vectors, kept between runs outside the repository
        cache = Path(tempfile.gettempdir()) / "caunoi-colloquial-ideas-vectors.pkl"
        if cache.exists():
            self.memo = pickle.loads(cache.read_bytes())
        self.prep = {}
        for name, qs in self.sets.items():
            for q in qs:
                self.prep[(name, q.qid)] = self._prepare(q.text)
        cache.write_bytes(pickle.dumps(self.memo))

    def encode(self, text: str) -> np.ndarray:
        if text not in self.memo:
            self.memo[text] = self.s.encoder.encode_query(text)[0]
        return self.memo[text]

    def encode_passage(self, text: str) -> np.ndarray:
        key = "\x00passage\x00" + text
        if key not in self.memo:
            self.memo[key] = self.s.encoder.encode_passages([text])[0]
        return self.memo[key]

    def _prepare(self, text: str) -> dict:
        s = self.s
        query = s.interpret(text)
        from knowledge.normalize import normalize

        plain = s.lexicon.expand_abbreviations(normalize(text))
        extras = s.lexicon.legal_terms(plain)  # accent-aware since 54404ba (5b)
        return {
            "query": query,
            "plain": plain,
            "extras": extras,
            "vec": {
                "restored": self.encode(query.restored),
                "plain": self.encode(plain),
                "expanded": self.encode(query.expanded),
                "extras": self.encode(" ".join(extras)) if extras else None,
                "restored_passage": self.encode_passage(query.restored),
            },
        }

    def title_field(self):
        if getattr(self, "_tf", None) is None:
            from knowledge.index import article_titles
            from knowledge.sparse import BM25Field

            firsts, _ = article_titles(self.s.passages)
            self._tf = BM25Field.build([terms(p.article_title) for p in firsts])
        return self._tf

    def everyday_vectors(self) -> np.ndarray:
        """Heading + the everyday phrases attached to the article (heading alone if none)."""
        if getattr(self, "_everyday", None) is None:
            from knowledge.index import article_titles

            firsts, _ = article_titles(self.s.passages)
            attached: list[list[str]] = [[] for _ in firsts]
            for written, legal in self.lexicon_entries():
                for a in self.legal_articles(legal, "headings"):
                    attached[a].append(" ".join(written))
            vectors = self.s.title_vectors.copy()
            rows = [i for i, ph in enumerate(attached) if ph]
            texts = [f"Điều {firsts[i].article_id}. {firsts[i].article_title}: "
                     + ", ".join(dict.fromkeys(attached[i])) for i in rows]
            vectors[rows] = self.s.encoder.encode_passages(texts)
            self._everyday = vectors
        return self._everyday

    def lexicon_entries(self) -> list[tuple[tuple[str, ...], str]]:
        """Every (everyday phrase as written, legal terms) row of the lexicon."""
        return [e for entries in self.s.lexicon.phrases.values() for e in entries]

    def legal_articles(self, legal: str, over: str) -> list[int]:
        """The (up to) 3 articles that legal terms point to: BM25 over the headings, or the
        articles of the best passages; positive scores only."""
        if over == "headings":
            sc = self.title_field().scores(terms(legal))
            return [int(a) for a in np.argsort(-sc, kind="stable")[:3] if sc[a] > 0]
        sc = self.s.sparse.scores(legal, folded_weight=self.s.tuning.folded_weight)
        top: list[int] = []
        for i in np.argsort(-sc, kind="stable")[:30]:
            a = int(self.s.article_of[i])
            if sc[i] > 0 and a not in top:
                top.append(a)
        return top[:3]

    def lexicon_pairs(self, source: str = "headings") -> tuple[np.ndarray, list[list[int]]]:
        """Query vectors of the lexicon's everyday phrases and, for each, the articles its
        legal terms point to (``legal_articles`` over headings or passages); "+chat" also
        puts each phrase in two chat sentences."""
        cache = getattr(self, "_pairs", {})
        if source not in cache:
            texts, targets = [], []
            for written, legal in self.lexicon_entries():
                top = self.legal_articles(legal, source.removesuffix("+chat"))
                if not top:
                    continue
                phrase = " ".join(written)
                said = [phrase]
                if source.endswith("+chat"):
                    said += [f"cho em hỏi {phrase} thì phải làm sao ạ",
                             f"nhà em {phrase} có được không"]
                texts += said
                targets += [top] * len(said)
            cache[source] = (np.stack([self.encode(t) for t in texts]), targets)
            self._pairs = cache
        return cache[source]

    def anchor_queries(self) -> np.ndarray:
        """Every article heading encoded as a query (its own article is the target)."""
        if getattr(self, "_anchors", None) is None:
            from knowledge.index import article_titles

            firsts, _ = article_titles(self.s.passages)
            self._anchors = np.stack([self.encode(p.heading) for p in firsts])
        return self._anchors

    def adapter(self, decay: float, epochs: int, anchor: float = 0.0,
                pairs: str = "headings") -> np.ndarray:
        """M of q' = normalise(q + qM), fitted by full-batch Adam on a softmax over all
        headings (temperature 0.05, every target article a positive) + decay * |M|²."""
        key = (decay, epochs, anchor, pairs)
        cache = getattr(self, "_adapters", {})
        if key not in cache:
            import torch

            torch.manual_seed(0)
            qs, targets = self.lexicon_pairs(pairs)
            q = torch.tensor(qs)
            t = torch.tensor(np.asarray(self.s.title_vectors))
            pos = torch.zeros(len(targets), t.shape[0])
            for i, ts in enumerate(targets):
                pos[i, ts] = 1.0
            qa = torch.tensor(self.anchor_queries()) if anchor else None
            m = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
            opt = torch.optim.Adam([m], lr=1e-3)

            def logits(x):  # adapted query against every heading
                return torch.nn.functional.normalize(x + x @ m, dim=-1) @ t.T / 0.05

            for _ in range(epochs):
                opt.zero_grad()
                z = logits(q)
                lse = torch.logsumexp(z, dim=1)
                loss = (lse - torch.logsumexp(z.masked_fill(pos == 0, -1e9), dim=1)).mean()
                if anchor:
                    za = logits(qa)
                    own = za[torch.arange(len(za)), torch.arange(len(za))]
                    loss = loss + anchor * (torch.logsumexp(za, dim=1) - own).mean()
                (loss + decay * (m**2).sum()).backward()
                opt.step()
            cache[key] = m.detach().numpy()
            self._adapters = cache
        return cache[key]

    def article_bm25(self, p: dict) -> np.ndarray:
        """BM25 of every article as one document (heading and all its passages), both fields."""
        if getattr(self, "_art_fields", None) is None:
            from knowledge.index import article_titles
            from knowledge.sparse import SparseIndex

            firsts, _ = article_titles(self.s.passages)
            self._art_fields = SparseIndex.build(
                [firsts[a].heading + "\n" + "\n".join(self.s.passages[i].text for i in idx)
                 for a, idx in enumerate(self.s.article_passages)])
        q, t = p["query"], self.s.tuning
        fw = t.folded_weight_unaccented if q.unaccented else t.folded_weight
        return self._art_fields.scores(q.expanded, folded_weight=fw)

    def title_article_vectors(self) -> np.ndarray:
        """Vectors of the article titles alone (no law name), encoded as passages."""
        if self.alt_titles is None:
            from knowledge.index import article_titles

            firsts, _ = article_titles(self.s.passages)
            texts = [f"Điều {p.article_id}. {p.article_title}" for p in firsts]
            self.alt_titles = self.s.encoder.encode_passages(texts)
        return self.alt_titles

    # ---- scoring ------------------------------------------------------------
    def _bm25_terms(self, text: str, folded: bool, cfg: Config) -> tuple[list[str], list[float]]:
        ts = terms(text, folded=folded)
        ws = [1.0] * len(ts)
        if cfg.stop_bigram == "keep":
            return ts, ws
        df = self.df_fold if folded else self.df_acc
        out_t, out_w = [], []
        for t in ts:
            w = 1.0
            if "_" in t:
                a, b = t.split("_", 1)
                ca, cb = df.get(a, 0) > cfg.stop_df, df.get(b, 0) > cfg.stop_df
                if cfg.stop_bigram == "drop_both" and ca and cb:
                    continue
                if cfg.stop_bigram == "drop_any" and (ca or cb):
                    continue
                if cfg.stop_bigram == "down_both" and ca and cb:
                    w = cfg.stop_factor
            out_t.append(t)
            out_w.append(w)
        return out_t, out_w

    def _field(self, field, ts: list[str], ws: list[float], exclude: set[str]) -> np.ndarray:
        cols: dict[int, float] = {}
        for t, w in zip(ts, ws):
            if t in exclude or t not in field.vocab:
                continue
            i = field.vocab[t]
            cols[i] = max(cols.get(i, 0.0), w)
        if not cols:
            return np.zeros(field.weights.shape[0], np.float32)
        ids = sorted(cols)
        wv = np.array([cols[i] for i in ids], np.float32)
        return np.asarray(field.weights[:, ids] @ wv).ravel()

    def bm25(self, p: dict, cfg: Config) -> np.ndarray:
        s, q = self.s, p["query"]
        t = s.tuning
        fw = t.folded_weight_unaccented if q.unaccented else t.folded_weight
        if cfg.joined and cfg.exp_weight == 1.0 and cfg.stop_bigram == "keep":
            return s.sparse.scores(q.expanded, folded_weight=fw)
        total = np.zeros(len(s.passages), np.float32)
        for field, folded, weight in ((s.sparse.accented, False, 1.0), (s.sparse.folded, True, fw)):
            if cfg.joined:
                main_text, extra_texts = q.expanded, []
            else:
                main_text, extra_texts = q.restored, p["extras"]
            ts, ws = self._bm25_terms(main_text, folded, cfg)
            score = self._field(field, ts, ws, set())
            if extra_texts:
                et, ew = [], []
                for e in extra_texts:
                    a, b = self._bm25_terms(e, folded, cfg)
                    et += a
                    ew += b
                score = score + cfg.exp_weight * self._field(field, et, ew, set(ts))
            total += weight * score
        return total

    def dense_sims(self, p: dict, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """(passage similarities, title similarities) over the whole corpus."""
        vec = p["vec"]
        if cfg.dense_mode == "restored":
            names, how = ["restored" if cfg.prefix == "query" else "restored_passage"], "max"
        else:
            how, rest = cfg.dense_mode.split(":")
            names = rest.split(",")
        titles = self._titles(cfg)
        ps = [self.vectors @ vec[n] for n in names]
        ts = [[t @ vec["adapted" if "adapted" in vec else n] for t in titles] for n in names]
        ts = [np.max(x, axis=0) if cfg.title_mode in ("max", "heading|everyday")
              else np.mean(x, axis=0) for x in ts]
        if cfg.title_query != "restored":
            tx = self._titles(cfg)[0] @ vec["expanded"]
            ts = [tx if cfg.title_query == "expanded" else (ts[0] + tx) / 2]
        if cfg.centroid_weight:
            self._cent_sims = self.centroids() @ vec[names[0]]
        if how == "max":
            return np.max(ps, axis=0), np.max(ts, axis=0)
        w = [1 - cfg.dense_mix, cfg.dense_mix] if len(names) == 2 else [1 / len(names)] * len(names)
        return sum(a * b for a, b in zip(w, ps)), sum(a * b for a, b in zip(w, ts))

    def centroids(self) -> np.ndarray:
        """Normalised mean of each article's passage vectors."""
        if getattr(self, "_cent", None) is None:
            c = np.zeros_like(self.s.title_vectors)
            np.add.at(c, self.s.article_of, self.vectors)
            self._cent = c / np.linalg.norm(c, axis=1, keepdims=True)
        return self._cent

    def _titles(self, cfg: Config) -> list[np.ndarray]:
        if cfg.title_mode == "heading":
            return [self.s.title_vectors]
        if cfg.title_mode == "centroid":
            return [self.centroids()]
        if cfg.title_mode == "heading+centroid":
            return [self.s.title_vectors, self.centroids()]
        if cfg.title_mode == "article":
            return [self.title_article_vectors()]
        if cfg.title_mode == "everyday":
            return [self.everyday_vectors()]
        if cfg.title_mode in ("heading+everyday", "heading|everyday"):
            return [self.s.title_vectors, self.everyday_vectors()]
        return [self.s.title_vectors, self.title_article_vectors()]

    def rank(self, p: dict, cfg: Config, k: int = 10) -> list[int]:
        if cfg.adapter_decay:
            m = self.adapter(cfg.adapter_decay, cfg.adapter_epochs, cfg.adapter_anchor,
                             cfg.adapter_pairs)
            v = p["vec"]["restored"] + p["vec"]["restored"] @ m
            # headings only: the passages keep the raw vector ("adapted" is read for headings)
            key = "adapted" if cfg.adapter_titles_only else "restored"
            p = {**p, "vec": {**p["vec"], key: v / np.linalg.norm(v)}}
        if cfg.prf_m:
            first = self._rank(p, cfg, k=cfg.prf_m, passages=True)
            vec = p["vec"]["restored"] + cfg.prf_beta * self.vectors[first].mean(axis=0)
            vec = vec / np.linalg.norm(vec)
            p = {**p, "vec": {**p["vec"], "restored": vec}}
            cfg = replace(cfg, prf_m=0)
        return self._rank(p, cfg, k)

    def _rank(self, p: dict, cfg: Config, k: int = 10, passages: bool = False) -> list[int]:
        s = self.s
        bm = self.bm25(p, cfg)
        dsim, tsim = self.dense_sims(p, cfg)
        pools = [_top_positive(bm, cfg.candidates)]
        pools.append(np.argsort(-dsim, kind="stable")[: cfg.candidates])
        tops = np.argsort(-tsim, kind="stable")[: cfg.title_candidates]
        pools.extend(s.article_passages[a] for a in tops)
        cand = np.unique(np.concatenate(pools)).astype(np.int64)
        art = s.article_of[cand]
        b, d, ti = bm[cand], dsim[cand], tsim[art]
        wb = 1.0 - cfg.dense_weight - cfg.title_weight
        if cfg.agg == "sep2":  # on min-max scaled scores, so lambda means the same for both
            b = _plus_second(minmax(b), art, cfg.lam)
            d = _plus_second(minmax(d), art, cfg.lam)
        parts = [(b, wb), (d, cfg.dense_weight), (ti, cfg.title_weight)]
        if cfg.centroid_weight:
            parts[0] = (b, wb - cfg.centroid_weight)
            parts.append((self._cent_sims[art], cfg.centroid_weight))
        if cfg.article_bm25:
            parts[0] = (parts[0][0], parts[0][1] - cfg.article_bm25)
            parts.append((self.article_bm25(p)[art], cfg.article_bm25))
        if cfg.xtitle_dense and p["vec"]["extras"] is not None:
            parts.append((s.title_vectors[art] @ p["vec"]["extras"], cfg.xtitle_dense))
        if cfg.xtitle_bm25 and p["extras"]:
            f = self.title_field()
            sc = f.scores(terms(" ".join(p["extras"])))  # one string: junction bigrams rarely hit
            parts.append((sc[art], cfg.xtitle_bm25))
        if cfg.dense_range:  # BM25 min-max as shipped, cosines on a fixed scale
            fixed = [np.minimum((x - x.min()) / cfg.dense_range, 1.5) for x in (d, ti)]
            fused = linear_fusion(parts[:1]) + cfg.dense_weight * fixed[0]
            fused = fused + cfg.title_weight * fixed[1]
        else:
            fused = linear_fusion(parts)
        if cfg.agg == "fused2":
            fused = _plus_second(fused, art, cfg.lam)
        elif cfg.agg == "softmax":
            fused = _softmax_sum(fused, art, cfg.temp)
        order = np.argsort(-fused, kind="stable")
        if passages:
            return [int(i) for i in cand[order[:k]]]
        out: list[int] = []
        for j in order:
            a = int(art[j])
            if a not in out:
                out.append(a)
                if len(out) == k:
                    break
        return out

    def reciprocal_ranks(self, cfg: Config, name: str) -> list[float]:
        """RR@10 of every question of one set, in the set's order."""
        keys = self._article_keys()
        return [score_ranking([keys[a] for a in self.rank(self.prep[(name, q.qid)], cfg)],
                              set(q.gold), (10,))[1] for q in self.sets[name]]

    def evaluate(self, cfg: Config) -> dict[str, float]:
        res: dict[str, list[float]] = {}
        for name, qs in self.sets.items():
            for q, rr in zip(qs, self.reciprocal_ranks(cfg, name), strict=True):
                if name.startswith("colloquial"):
                    half = "odd" if int(q.qid.split("-")[1]) % 2 else "even"
                    res.setdefault(f"{name} {half}", []).append(rr)
                res.setdefault(name, []).append(rr)
        out = {k: float(np.mean(v)) for k, v in res.items()}
        tune = [
            "alqac-dev",
            "alqac-dev (không dấu)",
            "colloquial odd",
            "colloquial (không dấu) odd",
        ]
        out["tune"] = float(np.mean([out[n] for n in tune]))
        return out

    def _article_keys(self) -> list[tuple[str, str]]:
        from knowledge.index import article_titles

        firsts, _ = article_titles(self.s.passages)
        return [(p.doc_id, p.article_id) for p in firsts]


def _plus_second(scores: np.ndarray, art: np.ndarray, lam: float) -> np.ndarray:
    """Each passage's score plus lam times the best *other* passage of its article."""
    if not lam:
        return scores
    out = scores.astype(np.float64).copy()
    for a in np.unique(art):
        idx = np.flatnonzero(art == a)
        if idx.size < 2:
            continue
        vals = scores[idx]
        order = np.argsort(-vals)
        best, second = vals[order[0]], vals[order[1]]
        other = np.where(np.arange(idx.size) == order[0], second, best)
        out[idx] = vals + lam * other
    return out


def _softmax_sum(scores: np.ndarray, art: np.ndarray, temp: float) -> np.ndarray:
    """temp * log(sum exp(score / temp)) over the candidate passages of each article."""
    out = scores.astype(np.float64).copy()
    for a in np.unique(art):
        idx = np.flatnonzero(art == a)
        lse = temp * np.log(np.exp((scores[idx] - scores[idx].max()) / temp).sum())
        out[idx] = scores[idx] + lse  # keep the passage order inside the article
    return out


COLS = [
    "name",
    "tune",
    "alqac-dev",
    "alqac-dev (không dấu)",
    "colloquial odd",
    "colloquial even",
    "colloquial",
    "colloquial (không dấu) odd",
    "colloquial (không dấu) even",
    "colloquial (không dấu)",
]


def configs() -> list[Config]:
    base = Config()
    out = [base]
    # 1. article evidence
    for lam in (0.05, 0.1, 0.2, 0.3):
        out.append(replace(base, name=f"1 fused max+{lam}·2nd", agg="fused2", lam=lam))
        out.append(replace(base, name=f"1 sep max+{lam}·2nd", agg="sep2", lam=lam))
    for temp in (0.02, 0.05, 0.1):
        out.append(replace(base, name=f"1 softmax-sum T={temp}", agg="softmax", temp=temp))
    # 2. dense multi-query
    for mode in ("max:restored,plain", "max:restored,expanded", "max:restored,plain,expanded"):
        out.append(replace(base, name=f"2 {mode}", dense_mode=mode))
    for mix in (0.25, 0.5):
        for second in ("plain", "expanded"):
            mode = f"mean:restored,{second}"
            out.append(replace(base, name=f"2 {mode} w={mix}", dense_mode=mode, dense_mix=mix))
    out.append(
        replace(
            base, name="2 mean:restored,plain,expanded", dense_mode="mean:restored,plain,expanded"
        )
    )
    # 3. expansion weight
    for w in (0.25, 0.5, 0.75, 1.0, 1.5):
        out.append(replace(base, name=f"3 expansion w={w}", joined=False, exp_weight=w))
    # 4. common-syllable bigrams
    for df in (0.1, 0.2, 0.3):
        for mode in ("drop_both", "drop_any", "down_both"):
            out.append(replace(base, name=f"4 {mode} df>{df}", stop_df=df, stop_bigram=mode))
    # 5. title vectors
    for mode in ("article", "max", "mean"):
        out.append(replace(base, name=f"5 titles {mode}", title_mode=mode))
    for w in (0.05, 0.1, 0.2):
        out.append(replace(base, name=f"6 extras->title dense w={w}", xtitle_dense=w))
        out.append(replace(base, name=f"6 extras->title bm25 w={w}", xtitle_bm25=w))
    out.append(replace(base, name="7 e5 passage prefix on the query", prefix="passage"))
    for c, tc in ((50, 30), (200, 30), (100, 10), (100, 60)):
        out.append(replace(base, name=f"7 pools {c}/{tc}", candidates=c, title_candidates=tc))
    for mode in ("centroid", "heading+centroid"):
        out.append(replace(base, name=f"9 titles {mode}", title_mode=mode))
    for w in (0.05, 0.1, 0.15):
        out.append(replace(base, name=f"9 centroid signal w={w} (from BM25)", centroid_weight=w))
    for r in (0.04, 0.06, 0.08, 0.12):
        out.append(replace(base, name=f"10 fixed cosine range {r}", dense_range=r))
    for mode in ("expanded", "mean"):
        out.append(
            replace(base, name=f"11 heading similarity from the {mode} query", title_query=mode)
        )
    for mode in ("everyday", "heading+everyday", "heading|everyday"):
        out.append(replace(base, name=f"12 titles {mode}", title_mode=mode))
    for m, beta in itertools.product((1, 3, 5), (0.3, 0.6, 1.0)):
        out.append(replace(base, name=f"13 dense PRF top {m} beta {beta}", prf_m=m, prf_beta=beta))
    for w in (0.05, 0.1, 0.2, 0.3):
        out.append(replace(base, name=f"14 article BM25 w={w} (from BM25)", article_bm25=w))
    for decay, epochs in itertools.product((1e-4, 1e-3, 1e-2, 3e-2, 1e-1), (100, 300)):
        out.append(replace(base, name=f"15 query adapter decay {decay} epochs {epochs}",
                           adapter_decay=decay, adapter_epochs=epochs))
    for decay, tw in itertools.product((1e-2, 3e-2), (0.1, 0.15, 0.2)):
        out.append(replace(base, name=f"15c adapter on headings only decay {decay} title w {tw}",
                           adapter_decay=decay, adapter_epochs=100, adapter_titles_only=True,
                           title_weight=tw))
    for pairs, heads in itertools.product(("passages", "headings+chat", "passages+chat"),
                                          (False, True)):
        where = "headings only" if heads else "passages and headings"
        out.append(replace(base, name=f"15d adapter, pairs from {pairs}, for {where}",
                           adapter_decay=1e-2, adapter_epochs=100, adapter_pairs=pairs,
                           adapter_titles_only=heads))
    for decay, epochs in itertools.product((1e-2, 3e-2), (100, 300)):
        name = f"15b adapter + heading anchors decay {decay} epochs {epochs}"
        out.append(replace(base, name=name,
                           adapter_decay=decay, adapter_epochs=epochs, adapter_anchor=1.0))
    best = replace(base, stop_df=0.3, stop_bigram="drop_both")
    out.append(replace(best, name="8 4(drop_both 0.3)+5b"))
    out.append(replace(best, name="8 4+5b+softmax 0.02", agg="softmax", temp=0.02))
    for dw, tw in itertools.product((0.4, 0.5, 0.6), (0.1, 0.15, 0.2)):
        out.append(
            replace(best, name=f"8 4+5b dense {dw} title {tw}", dense_weight=dw, title_weight=tw)
        )
    return out


def paired(lab: Lab, cfg: Config, baseline: dict[str, list[float]]) -> list[dict]:
    """Question by question against the baseline (RR@10 per set): the mean difference with a
    95% bootstrap interval, and how many questions rank their gold article higher / lower."""
    rows = []
    for name, base in baseline.items():
        new = lab.reciprocal_ranks(cfg, name)
        diff = [n - b for b, n in zip(base, new, strict=True)]
        low, high = mrr_interval(diff)  # a bootstrap of the mean, here of the differences
        rows.append({"name": cfg.name, "set": name, "baseline": f"{np.mean(base):.3f}",
                     "idea": f"{np.mean(new):.3f}", "difference": f"{np.mean(diff):+.3f}",
                     "95% CI": f"{low:+.3f}…{high:+.3f}",
                     "higher / lower": f"{sum(d > 0 for d in diff)} / {sum(d < 0 for d in diff)}"})
    return rows


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--paired"]:  # prints only; the saved table stays as it is
        names = args[1:]
        chosen = [cfg for cfg in configs() if cfg.name in names]
        known = {cfg.name for cfg in chosen}
        if not names or len(known) < len(set(names)):
            sys.exit("Cần tên đầy đủ của hàng; không có hàng tên: "
                     + "; ".join(a for a in names if a not in known))
        lab = Lab()
        baseline = {name: lab.reciprocal_ranks(Config(), name) for name in lab.sets}
        rows = [r for cfg in chosen for r in paired(lab, cfg, baseline)]
        print(table(rows, list(rows[0])))
        return
    lab = Lab()
    only = args
    rows = []
    for cfg in configs():
        if only and not any(cfg.name.startswith(o) for o in only):
            continue
        row = {"name": cfg.name, **{k: round(v, 3) for k, v in lab.evaluate(cfg).items()}}
        rows.append(row)
        print(row, flush=True)
    print(table(rows, COLS))
    save("colloquial_ideas", rows)


if __name__ == "__main__":
    main()
