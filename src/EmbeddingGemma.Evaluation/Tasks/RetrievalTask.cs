using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// Retrieval (BEIR / MTEB): every query ranks the whole corpus by cosine similarity (or BM25 for the lexical model);
/// the top 1000 are scored with trec_eval semantics (<see cref="RetrievalMetrics"/>). Main score nDCG@10.
/// Documents are embedded as <c>title + " " + text</c> with the document prompt, queries with the query prompt.
/// </summary>
public sealed class RetrievalTask : EvalTask
{
    public const int TopK = 1000;
    private readonly Func<RetrievalDataset> _load;

    public RetrievalTask(string name, IReadOnlyList<string> languages, Func<RetrievalDataset> load,
        string queryPrompt = "Retrieval-query", string documentPrompt = "Retrieval-document")
        : base(name, EvalTaskType.Retrieval, "ndcg_at_10", languages)
    {
        _load = load;
        QueryPrompt = queryPrompt;
        DocumentPrompt = documentPrompt;
    }

    public string QueryPrompt { get; }

    public string DocumentPrompt { get; }

    public override bool SupportsLexical => true;

    public static string DocumentText(CorpusDocument d) => (d.Title + " " + d.Text).Trim();

    protected override async Task<(IReadOnlyList<DimensionScore>, double?, string?)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken)
    {
        var ds = context.Prepare(_load());
        var docTexts = ds.Corpus.Select(DocumentText).ToList();
        var docIds = ds.Corpus.Select(d => d.Id).ToArray();
        var note = $"{ds.Queries.Count} queries, {ds.Corpus.Count} documents";
        double chance = RandomRankingScore(ds, docIds, context.Seed);
        var scores = new List<DimensionScore>();
        if (context.Model.Bm25 is { } bm25)
        {
            var index = new Bm25Index(bm25.MultiField ? ds.Corpus.Select(d => d.Text).ToList() : docTexts, bm25);
            var titles = bm25.MultiField ? new Bm25Index(ds.Corpus.Select(d => d.Title).ToList(), bm25) : null;
            var results = new Dictionary<string, IReadOnlyList<ScoredDocument>>(StringComparer.Ordinal);
            foreach (var q in ds.Queries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var s = index.Score(q.Text);
                if (titles is not null)
                {
                    var t = titles.Score(q.Text);
                    for (int j = 0; j < s.Length; j++)
                    {
                        s[j] = Math.Max(s[j], t[j]) + bm25.TieBreaker * Math.Min(s[j], t[j]);
                    }
                }
                results[q.Id] = Top(s, docIds, TopK, positiveOnly: true);
            }
            var ev = RetrievalMetrics.Evaluate(ds.Qrels, results);
            scores.Add(new DimensionScore(null, ev.Metrics[MainMetric], ev.Metrics));
            return (scores, chance, note);
        }
        var cache = context.RequireCache();
        var qFull = await cache.GetFullAsync(ds.Queries.Select(q => q.Text).ToList(), QueryPrompt, cancellationToken).ConfigureAwait(false);
        var dFull = await cache.GetFullAsync(docTexts, DocumentPrompt, cancellationToken).ConfigureAwait(false);
        foreach (int dim in context.EffectiveDimensions(qFull[0].Length))
        {
            var qv = EmbeddingCache.Truncate(qFull, dim);
            var dv = EmbeddingCache.Truncate(dFull, dim);
            var results = new Dictionary<string, IReadOnlyList<ScoredDocument>>(StringComparer.Ordinal);
            var s = new double[dv.Length];
            for (int i = 0; i < qv.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (int j = 0; j < dv.Length; j++)
                {
                    s[j] = VectorOps.Dot(qv[i], dv[j]);
                }
                results[ds.Queries[i].Id] = Top(s, docIds, TopK, positiveOnly: false);
            }
            var ev = RetrievalMetrics.Evaluate(ds.Qrels, results);
            scores.Add(new DimensionScore(dim, ev.Metrics[MainMetric], ev.Metrics));
        }
        return (scores, chance, note);
    }

    /// <summary>nDCG@10 of a seeded random ranking: the chance level of this data set.</summary>
    private double RandomRankingScore(RetrievalDataset ds, string[] docIds, int seed)
    {
        var rng = new Random(seed);
        var results = new Dictionary<string, IReadOnlyList<ScoredDocument>>(StringComparer.Ordinal);
        var s = new double[docIds.Length];
        foreach (var q in ds.Queries)
        {
            for (int j = 0; j < s.Length; j++)
            {
                s[j] = rng.NextDouble();
            }
            results[q.Id] = Top(s, docIds, TopK, positiveOnly: false);
        }
        return RetrievalMetrics.Evaluate(ds.Qrels, results, [10]).Metrics["ndcg_at_10"];
    }

    internal static ScoredDocument[] Top(double[] scores, string[] ids, int k, bool positiveOnly)
    {
        var heap = new PriorityQueue<int, (double, string)>(Comparer<(double S, string Id)>.Create(static (a, b) =>
        {
            int c = a.S.CompareTo(b.S);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        }));
        for (int j = 0; j < scores.Length; j++)
        {
            if (positiveOnly && scores[j] <= 0)
            {
                continue;
            }
            if (heap.Count < k)
            {
                heap.Enqueue(j, (scores[j], ids[j]));
            }
            else
            {
                heap.EnqueueDequeue(j, (scores[j], ids[j]));
            }
        }
        var top = new ScoredDocument[heap.Count];
        int n = 0;
        while (heap.TryDequeue(out int j, out _))
        {
            top[n++] = new ScoredDocument(ids[j], scores[j]);
        }
        return top;
    }
}
