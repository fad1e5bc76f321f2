#!/usr/bin/env python3
"""Builds data/eval/ (small, deterministic copies of ../shared/data) for the evaluation tests and default CLI runs.

Deterministic subsampling: rows are ranked by sha1("<set>:<row key>") and the first N are kept, then written in their
original order. Every output is gzipped (the loaders read plain or .gz). Run from the repository root:
    python3 scripts/make-eval-data.py ../shared/data data/eval
"""
import gzip, hashlib, json, os, shutil, sys

src, dst = sys.argv[1], sys.argv[2]
notes = []


def h(tag, key):
    return hashlib.sha1(f"{tag}:{key}".encode("utf-8")).hexdigest()


def pick(tag, keys, n):
    keys = list(keys)
    if n is None or len(keys) <= n:
        return set(keys)
    return set(sorted(keys, key=lambda k: h(tag, k))[:n])


def opentext(path):
    if os.path.exists(path):
        return open(path, encoding="utf-8", newline="")
    return gzip.open(path + ".gz", "rt", encoding="utf-8", newline="")


def write_gz(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.GzipFile(path + ".gz", "wb", mtime=0) as f:
        f.write(text.encode("utf-8"))


def copy(rel_src, rel_dst=None):
    rel_dst = rel_dst or rel_src
    os.makedirs(os.path.dirname(os.path.join(dst, rel_dst)), exist_ok=True)
    shutil.copyfile(os.path.join(src, rel_src), os.path.join(dst, rel_dst))


def lines_of(rel):
    with opentext(os.path.join(src, rel)) as f:
        return f.read().splitlines(keepends=True)


def subsample_rows(rel, tag, n, header=1, key=lambda i, line: str(i), per_label=None, label=None):
    lines = lines_of(rel)
    head, rows = lines[:header], lines[header:]
    if per_label is not None:
        groups = {}
        for i, r in enumerate(rows):
            groups.setdefault(label(r), []).append(i)
        keep = set()
        for lab, idx in groups.items():
            keep |= pick(tag + ":" + lab, idx, per_label)
    else:
        keep = pick(tag, range(len(rows)), n)
    kept = [r for i, r in enumerate(rows) if i in keep]
    write_gz(os.path.join(dst, rel), "".join(head + kept))
    notes.append(f"{rel}.gz: {len(kept)} of {len(rows)} rows")


def copy_gz(rel):
    lines = lines_of(rel)
    write_gz(os.path.join(dst, rel), "".join(lines))
    notes.append(f"{rel}.gz: all {len(lines)} lines")


def read_jsonl(rel):
    with opentext(os.path.join(src, rel)) as f:
        return [json.loads(l) for l in f if l.strip()]


def dump_jsonl(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# scifact: the 300 test queries, every judged document + hash-picked others up to 1000 documents
d = "scifact_beir"
qrels = lines_of(f"{d}/qrels/test.tsv")
judged = {l.split("\t")[1] for l in qrels[1:]}
qids = {l.split("\t")[0] for l in qrels[1:]}
corpus = read_jsonl(f"{d}/corpus.jsonl")
others = pick("scifact", [c["_id"] for c in corpus if c["_id"] not in judged], 1000 - len(judged))
keep = judged | others
write_gz(f"{dst}/{d}/corpus.jsonl", dump_jsonl([c for c in corpus if c["_id"] in keep]))
write_gz(f"{dst}/{d}/queries.jsonl", dump_jsonl([q for q in read_jsonl(f"{d}/queries.jsonl") if q["_id"] in qids]))
write_gz(f"{dst}/{d}/qrels/test.tsv", "".join(qrels))
notes.append(f"scifact_beir: corpus {len(keep)} of {len(corpus)} docs (all {len(judged)} judged test docs kept), {len(qids)} test queries, qrels/test.tsv complete; train qrels dropped")
copy(f"{d}/SOURCE.txt", f"{d}/SOURCE.upstream.txt")

# xquad: whole corpus per language, 300 hash-picked questions (same ids in every language)
d = "xquad"
q_en = read_jsonl(f"{d}/beir/en/queries.jsonl")
qkeep = pick("xquad", [q["_id"] for q in q_en], 300)
for lang in ["ar", "de", "en", "es", "ru", "zh"]:
    b = f"{d}/beir/{lang}"
    copy_gz(f"{b}/corpus.jsonl")
    write_gz(f"{dst}/{b}/queries.jsonl", dump_jsonl([q for q in read_jsonl(f"{b}/queries.jsonl") if q["_id"] in qkeep]))
    ql = lines_of(f"{b}/qrels/test.tsv")
    write_gz(f"{dst}/{b}/qrels/test.tsv", "".join(ql[:1] + [l for l in ql[1:] if l.split("\t")[0] in qkeep]))
notes.append(f"xquad/beir/<lang>: whole corpus (240 paragraphs), {len(qkeep)} of {len(q_en)} questions (same ids in every language)")
for f in ["SOURCE.txt", "LICENSE.CC-BY-SA-4.0.txt"]:
    copy(f"{d}/{f}", f"{d}/{f.replace('SOURCE.txt', 'SOURCE.upstream.txt')}")

# code retrieval
copy("humaneval/HumanEval.jsonl.gz"); copy("humaneval/LICENSE"); copy("humaneval/SOURCE.txt", "humaneval/SOURCE.upstream.txt")
copy_gz("mbpp/mbpp.jsonl"); copy("mbpp/SOURCE.txt", "mbpp/SOURCE.upstream.txt")

# STS
for lang in ["en", "de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh"]:
    copy_gz(f"stsb_multi_mt/stsb-{lang}-test.csv")
copy("stsb_multi_mt/LICENSE.txt"); copy("stsb_multi_mt/SOURCE.txt", "stsb_multi_mt/SOURCE.upstream.txt")
sl = lines_of("stsbenchmark_en/stsbenchmark.tsv")
write_gz(f"{dst}/stsbenchmark_en/stsbenchmark.tsv", "".join(sl[:1] + [l for l in sl[1:] if l.startswith("test\t")]))
notes.append("stsbenchmark_en/stsbenchmark.tsv.gz: the 1379 test rows only")
copy("stsbenchmark_en/SOURCE.txt", "stsbenchmark_en/SOURCE.upstream.txt")

# classification
copy_gz("banking77/test.csv")
import csv, io
with opentext(os.path.join(src, "banking77/train.csv")) as f:
    brows = list(csv.reader(f))
bgroups = {}
for i, r in enumerate(brows[1:]):
    bgroups.setdefault(r[1], []).append(i)
bkeep = set()
for lab, idx in bgroups.items():
    bkeep |= pick("banking77:" + lab, idx, 24)
buf = io.StringIO()
w = csv.writer(buf, lineterminator="\n")
w.writerow(brows[0])
for i, r in enumerate(brows[1:]):
    if i in bkeep:
        w.writerow(r)
write_gz(f"{dst}/banking77/train.csv", buf.getvalue())
notes.append(f"banking77/train.csv.gz: {len(bkeep)} of {len(brows) - 1} rows (24 per label, hash-picked; rewritten with Python's csv writer)")
for f in ["LICENSE", "categories.json"]:
    copy(f"banking77/{f}")
copy("banking77/SOURCE.txt", "banking77/SOURCE.upstream.txt")
for lang in ["EN", "DE", "JP"]:
    copy_gz(f"amazon_counterfactual/{lang}_test.tsv")
    subsample_rows(f"amazon_counterfactual/{lang}_train.tsv", "amazon" + lang, 600)
copy("amazon_counterfactual/LICENSE.txt"); copy("amazon_counterfactual/SOURCE.txt", "amazon_counterfactual/SOURCE.upstream.txt")
for lang in ["arb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "hin_Deva", "jpn_Jpan", "kor_Hang", "rus_Cyrl", "spa_Latn", "zho_Hans", "zho_Hant"]:
    copy_gz(f"sib200/{lang}/test.tsv"); copy_gz(f"sib200/{lang}/train.tsv"); copy(f"sib200/{lang}/labels.txt")
copy("sib200/LICENSE.repo-Apache-2.0.txt"); copy("sib200/SOURCE.txt", "sib200/SOURCE.upstream.txt")
copy_gz("csl_zh/cls_ctg/test.tsv")
subsample_rows("csl_zh/cls_ctg/train.tsv", "cslctg", None, header=0, per_label=60, label=lambda r: r.rstrip("\r\n").split("\t")[2])
subsample_rows("csl_zh/cls_dcp/test.tsv", "csldcp", 600, header=0)
copy("csl_zh/SOURCE.txt", "csl_zh/SOURCE.upstream.txt"); copy("csl_zh/README.upstream.md")

with open(os.path.join(dst, "SUBSAMPLES.txt"), "w", encoding="utf-8") as f:
    f.write("Deterministic small copies of ../shared/data made by scripts/make-eval-data.py (see its docstring).\n")
    f.write("Each folder keeps the upstream SOURCE (SOURCE.upstream.txt: origin, licence, sha256 of the FULL files) and licence.\n")
    f.write("Scores on these copies are not comparable with published numbers; pass --data-dir ../shared/data for the full sets.\n\n")
    f.write("\n".join(notes) + "\n")
print("\n".join(notes))

for d in sorted(os.listdir(dst)):
    if os.path.isdir(os.path.join(dst, d)):
        mine = [n for n in notes if n.startswith(d)]
        with open(os.path.join(dst, d, "SOURCE.txt"), "w", encoding="utf-8") as f:
            f.write(f"Small deterministic copy of shared/data/{d} made by scripts/make-eval-data.py for the evaluation tests.\n")
            f.write("Origin, licence and sha256 of the full upstream files: SOURCE.upstream.txt (copied unchanged); licence files copied unchanged.\n")
            f.write("Changes: files gzipped; rows subsampled by sha1 rank where listed below (else all rows kept):\n")
            f.write("".join(f"  {n}\n" for n in mine))
