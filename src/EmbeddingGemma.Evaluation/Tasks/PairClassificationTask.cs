using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// Pair classification: cosine similarity of each pair as the score for "positive"; reports <c>cosine_ap</c> (average
/// precision), <c>cosine_accuracy</c> and <c>cosine_f1</c> (best threshold), and <c>max_ap</c> (main; the best AP over
/// similarity functions, here cosine only).
/// </summary>
public sealed class PairClassificationTask : EvalTask
{
    private readonly Func<PairClassificationDataset> _load;

    public PairClassificationTask(string name, IReadOnlyList<string> languages, Func<PairClassificationDataset> load, string prompt = "PairClassification")
        : base(name, EvalTaskType.PairClassification, "max_ap", languages)
    {
        _load = load;
        Prompt = prompt;
    }

    public string Prompt { get; }

    protected override async Task<(IReadOnlyList<DimensionScore>, double?, string?)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken)
    {
        var ds = context.Prepare(_load());
        var cache = context.RequireCache();
        var a = await cache.GetFullAsync(ds.Pairs.Select(p => p.Text1).ToList(), Prompt, cancellationToken).ConfigureAwait(false);
        var b = await cache.GetFullAsync(ds.Pairs.Select(p => p.Text2).ToList(), Prompt, cancellationToken).ConfigureAwait(false);
        var labels = ds.Pairs.Select(p => p.Label).ToArray();
        var scores = new List<DimensionScore>();
        foreach (int dim in context.EffectiveDimensions(a[0].Length))
        {
            var sims = CosineRows(EmbeddingCache.Truncate(a, dim), EmbeddingCache.Truncate(b, dim)).Select(x => (double)x).ToArray();
            double ap = ClassificationMetrics.AveragePrecision(sims, labels);
            var (acc, f1) = ClassificationMetrics.BestThresholdAccuracyAndF1(sims, labels);
            scores.Add(new DimensionScore(dim, ap, new Dictionary<string, double>
            {
                ["cosine_ap"] = ap,
                ["cosine_accuracy"] = acc,
                ["cosine_f1"] = f1,
                ["max_ap"] = ap,
            }));
        }
        double positiveRate = (double)labels.Count(l => l) / labels.Length;
        return (scores, positiveRate, $"{ds.Pairs.Count} pairs, {positiveRate:P0} positive");
    }
}
