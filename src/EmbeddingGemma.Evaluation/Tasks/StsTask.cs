using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>STS: Spearman (main, <c>cosine_spearman</c>) and Pearson correlation between cosine similarity and the gold scores.</summary>
public sealed class StsTask : EvalTask
{
    private readonly Func<StsDataset> _load;

    public StsTask(string name, IReadOnlyList<string> languages, Func<StsDataset> load, string prompt = "STS")
        : base(name, EvalTaskType.STS, "cosine_spearman", languages)
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
        var gold = ds.Pairs.Select(p => p.Score).ToArray();
        var scores = new List<DimensionScore>();
        foreach (int dim in context.EffectiveDimensions(a[0].Length))
        {
            var sims = CosineRows(EmbeddingCache.Truncate(a, dim), EmbeddingCache.Truncate(b, dim)).Select(x => (double)x).ToArray();
            double spearman = Correlation.Spearman(sims, gold), pearson = Correlation.Pearson(sims, gold);
            var m = new Dictionary<string, double>
            {
                ["cosine_spearman"] = spearman,
                ["cosine_pearson"] = pearson,
                ["spearman"] = spearman,
                ["pearson"] = pearson,
            };
            scores.Add(new DimensionScore(dim, spearman, m));
        }
        return (scores, 0.0, $"{ds.Pairs.Count} pairs");
    }
}
