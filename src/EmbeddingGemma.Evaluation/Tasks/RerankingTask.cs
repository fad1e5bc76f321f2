using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// Reranking (MTEB v1 RerankingEvaluator): each query's candidates (positives + negatives) are ordered by cosine
/// similarity (BM25 for the lexical model); <c>map</c> (main) is the mean average precision over queries, <c>mrr_at_10</c>
/// the mean reciprocal rank of the first positive within 10. Tied scores are ordered conservatively (negatives first),
/// so a constant scorer cannot score above chance.
/// </summary>
public sealed class RerankingTask : EvalTask
{
    private readonly Func<RerankingDataset> _load;

    public RerankingTask(string name, IReadOnlyList<string> languages, Func<RerankingDataset> load,
        string queryPrompt = "Reranking", string documentPrompt = "Retrieval-document")
        : base(name, EvalTaskType.Reranking, "map", languages)
    {
        _load = load;
        QueryPrompt = queryPrompt;
        DocumentPrompt = documentPrompt;
    }

    public string QueryPrompt { get; }

    public string DocumentPrompt { get; }

    public override bool SupportsLexical => true;

    /// <summary>AP and reciprocal rank (within 10) of one candidate list.</summary>
    public static (double Ap, double Rr) ScoreSample(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ThenBy(i => positive[i]).ToArray();
        int hits = 0, total = positive.Count(p => p);
        double ap = 0, rr = 0;
        for (int r = 0; r < order.Length; r++)
        {
            if (positive[order[r]])
            {
                hits++;
                ap += (double)hits / (r + 1);
                if (rr == 0 && r < 10)
                {
                    rr = 1.0 / (r + 1);
                }
            }
        }
        return (total == 0 ? 0 : ap / total, rr);
    }

    protected override async Task<(IReadOnlyList<DimensionScore>, double?, string?)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken)
    {
        var ds = context.Prepare(_load());
        var positives = ds.Samples.Select(s => s.Positives.Select(_ => true).Concat(s.Negatives.Select(_ => false)).ToArray()).ToList();
        var candidates = ds.Samples.Select(s => s.Positives.Concat(s.Negatives).ToArray()).ToList();
        var scores = new List<DimensionScore>();
        var rng = new Random(context.Seed);
        double chance = Summarize(candidates.Select((c, i) => ScoreSample(c.Select(_ => rng.NextDouble()).ToArray(), positives[i])).ToList())["map"];
        string note = $"{ds.Samples.Count} queries, {candidates.Average(c => c.Length):F1} candidates each";
        if (context.Model.Bm25 is { } bm25)
        {
            var per = new List<(double, double)>();
            for (int i = 0; i < ds.Samples.Count; i++)
            {
                var index = new Bm25Index(candidates[i], bm25);
                per.Add(ScoreSample(index.Score(ds.Samples[i].Query), positives[i]));
            }
            var m = Summarize(per);
            scores.Add(new DimensionScore(null, m["map"], m));
            return (scores, chance, note + " (BM25 statistics per candidate list)");
        }
        var cache = context.RequireCache();
        var qFull = await cache.GetFullAsync(ds.Samples.Select(s => s.Query).ToList(), QueryPrompt, cancellationToken).ConfigureAwait(false);
        var allDocs = candidates.SelectMany(c => c).Distinct(StringComparer.Ordinal).ToList();
        var dFullList = await cache.GetFullAsync(allDocs, DocumentPrompt, cancellationToken).ConfigureAwait(false);
        var dFull = allDocs.Select((t, i) => (t, dFullList[i])).ToDictionary(p => p.t, p => p.Item2, StringComparer.Ordinal);
        foreach (int dim in context.EffectiveDimensions(qFull[0].Length))
        {
            var per = new List<(double, double)>();
            for (int i = 0; i < ds.Samples.Count; i++)
            {
                var q = VectorOps.Truncate(qFull[i], dim, normalize: true);
                var s = candidates[i].Select(c => (double)VectorOps.Dot(q, VectorOps.Truncate(dFull[c], dim, normalize: true))).ToArray();
                per.Add(ScoreSample(s, positives[i]));
            }
            var m = Summarize(per);
            scores.Add(new DimensionScore(dim, m["map"], m));
        }
        return (scores, chance, note);
    }

    private static Dictionary<string, double> Summarize(IReadOnlyList<(double Ap, double Rr)> per) => new()
    {
        ["map"] = per.Average(p => p.Ap),
        ["mrr_at_10"] = per.Average(p => p.Rr),
    };
}
