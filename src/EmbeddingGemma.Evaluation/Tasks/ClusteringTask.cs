using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Learners;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// Clustering: k-means with k = number of gold labels on the embeddings, V-measure against the gold labels
/// (<c>v_measure</c>, main), mean over <see cref="Runs"/> seeded runs (MTEB also reports the mean over several runs).
/// </summary>
public sealed class ClusteringTask : EvalTask
{
    private readonly Func<ClusteringDataset> _load;

    public ClusteringTask(string name, IReadOnlyList<string> languages, Func<ClusteringDataset> load, int runs = 5, string prompt = "Clustering")
        : base(name, EvalTaskType.Clustering, "v_measure", languages)
    {
        _load = load;
        Runs = runs;
        Prompt = prompt;
    }

    public int Runs { get; }

    public string Prompt { get; }

    protected override async Task<(IReadOnlyList<DimensionScore>, double?, string?)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken)
    {
        var ds = context.Prepare(_load());
        var ids = ds.Items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        var gold = ds.Items.Select(i => ids[i.Label]).ToArray();
        int k = ids.Count;
        var full = await context.RequireCache().GetFullAsync(ds.Items.Select(i => i.Text).ToList(), Prompt, cancellationToken).ConfigureAwait(false);
        var scores = new List<DimensionScore>();
        foreach (int dim in context.EffectiveDimensions(full[0].Length))
        {
            var x = EmbeddingCache.Truncate(full, dim);
            var v = new List<double>();
            for (int r = 0; r < Runs; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                v.Add(VMeasure.Compute(gold, KMeans.Cluster(x, k, context.Seed + r)).VMeasure);
            }
            double mean = v.Average();
            scores.Add(new DimensionScore(dim, mean, new Dictionary<string, double>
            {
                ["v_measure"] = mean,
                ["v_measure_std"] = Math.Sqrt(v.Sum(a => (a - mean) * (a - mean)) / v.Count),
            }));
        }
        // Chance: V-measure of a seeded uniformly random assignment to k clusters (not 0 for finite n).
        var rng = new Random(context.Seed);
        double chance = VMeasure.Compute(gold, gold.Select(_ => rng.Next(k)).ToArray()).VMeasure;
        return (scores, chance, $"{ds.Items.Count} texts, k = {k}");
    }
}
