using EmbeddingGemma.Evaluation.Data;
using EmbeddingGemma.Evaluation.Learners;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// Classification, MTEB's logistic-regression protocol: for each of <see cref="Experiments"/> seeds, draw
/// <see cref="SamplesPerLabel"/> training texts per label (shuffled with the seed), fit a logistic regression
/// (<see cref="LogisticRegression"/>, C = 1) on their embeddings, predict the test split. Reports the means over seeds:
/// <c>accuracy</c> (main), <c>f1</c> (macro), <c>f1_weighted</c>, and <c>accuracy_stderr</c>.
/// Only the sampled training texts are embedded. Test labels are never seen by the classifier.
/// </summary>
public sealed class ClassificationTask : EvalTask
{
    private readonly Func<ClassificationDataset> _load;

    public ClassificationTask(string name, IReadOnlyList<string> languages, Func<ClassificationDataset> load,
        int experiments = 10, int samplesPerLabel = 8, string prompt = "Classification")
        : base(name, EvalTaskType.Classification, "accuracy", languages)
    {
        _load = load;
        Experiments = experiments;
        SamplesPerLabel = samplesPerLabel;
        Prompt = prompt;
    }

    public int Experiments { get; }

    public int SamplesPerLabel { get; }

    public string Prompt { get; }

    /// <summary>The per-label undersampling of one experiment (MTEB's <c>_undersample_data</c>): shuffle with the seed,
    /// keep the first <paramref name="perLabel"/> of each label.</summary>
    public static List<int> Undersample(IReadOnlyList<string> labels, int perLabel, int seed)
    {
        var order = Enumerable.Range(0, labels.Count).ToArray();
        new Random(seed).Shuffle(order);
        var taken = new Dictionary<string, int>(StringComparer.Ordinal);
        var keep = new List<int>();
        foreach (int i in order)
        {
            int t = taken.GetValueOrDefault(labels[i]);
            if (t < perLabel)
            {
                taken[labels[i]] = t + 1;
                keep.Add(i);
            }
        }
        return keep;
    }

    protected override async Task<(IReadOnlyList<DimensionScore>, double?, string?)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken)
    {
        var ds = context.Prepare(_load());
        var labelIds = ds.Train.Select(t => t.Label).Concat(ds.Test.Select(t => t.Label)).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        var trainLabels = ds.Train.Select(t => t.Label).ToList();
        var samples = Enumerable.Range(0, Experiments).Select(e => Undersample(trainLabels, SamplesPerLabel, context.Seed + e)).ToList();
        var cache = context.RequireCache();
        var trainTexts = samples.SelectMany(s => s).Distinct().Order().Select(i => ds.Train[i].Text).ToList();
        var trainFull = (await cache.GetFullAsync(trainTexts, Prompt, cancellationToken).ConfigureAwait(false))
            .Select((v, i) => (trainTexts[i], v)).GroupBy(p => p.Item1, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().v, StringComparer.Ordinal);
        var testFull = await cache.GetFullAsync(ds.Test.Select(t => t.Text).ToList(), Prompt, cancellationToken).ConfigureAwait(false);
        var gold = ds.Test.Select(t => labelIds[t.Label]).ToArray();
        var scores = new List<DimensionScore>();
        foreach (int dim in context.EffectiveDimensions(testFull[0].Length))
        {
            var test = EmbeddingCache.Truncate(testFull, dim);
            // The experiments are independent: fit them in parallel (results do not depend on scheduling).
            var runs = new (double Acc, double F1, double F1w)[samples.Count];
            Parallel.For(0, samples.Count, new ParallelOptions { CancellationToken = cancellationToken }, e =>
            {
                var sample = samples[e];
                var x = sample.Select(i => VectorOps.Truncate(trainFull[ds.Train[i].Text], dim, normalize: true)).ToList();
                var y = sample.Select(i => labelIds[ds.Train[i].Label]).ToList();
                var model = LogisticRegression.Fit(x, y, labelIds.Count);
                var predicted = test.Select(model.Predict).ToArray();
                runs[e] = (ClassificationMetrics.Accuracy(gold, predicted), ClassificationMetrics.MacroF1(gold, predicted), WeightedF1(gold, predicted));
            });
            var acc = runs.Select(r => r.Acc).ToList();
            var f1 = runs.Select(r => r.F1).ToList();
            var f1w = runs.Select(r => r.F1w).ToList();
            double mean = acc.Average();
            var m = new Dictionary<string, double>
            {
                ["accuracy"] = mean,
                ["f1"] = f1.Average(),
                ["f1_weighted"] = f1w.Average(),
                ["accuracy_stderr"] = Math.Sqrt(acc.Sum(a => (a - mean) * (a - mean)) / acc.Count),
            };
            scores.Add(new DimensionScore(dim, mean, m));
        }
        int k = labelIds.Count;
        return (scores, 1.0 / k, $"{k} labels, {Experiments} experiments x {SamplesPerLabel} per label, {ds.Test.Count} test texts");
    }

    private static double WeightedF1(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        double sum = 0;
        foreach (var g in gold.GroupBy(x => x))
        {
            var bin = gold.Select(x => x == g.Key ? 1 : 0).ToArray();
            var pb = predicted.Select(x => x == g.Key ? 1 : 0).ToArray();
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < bin.Length; i++)
            {
                tp += bin[i] & pb[i];
                fp += (1 - bin[i]) & pb[i];
                fn += bin[i] & (1 - pb[i]);
            }
            double f = 2 * tp + fp + fn == 0 ? 0 : 2.0 * tp / (2 * tp + fp + fn);
            sum += f * g.Count();
        }
        return sum / gold.Count;
    }
}
