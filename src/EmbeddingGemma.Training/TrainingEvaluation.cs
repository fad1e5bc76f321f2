using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Evaluation.Metrics;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Data;

namespace EmbeddingGemma.Training;

/// <summary>One score of <see cref="TrainingEvaluation.Evaluate"/>: a dataset, a metric, a Matryoshka size.</summary>
public sealed record TrainingEvalScore(string Dataset, string Metric, int Dimensions, double Score);

/// <summary>
/// Scores a model on held-out data in the training formats, with the same column prompts as training, at each
/// Matryoshka size (truncate and renormalize): similarity pairs: Spearman of cos(text1, text2) with the score (MTEB STS);
/// triplets: accuracy of cos(anchor, positive) &gt; cos(anchor, negative); pairs: accuracy@1 of finding each anchor's
/// positive among all the dataset's positives. Built-in or BEIR tasks go through the evaluation library instead
/// (<c>embeddinggemma train --eval TASKS</c>).
/// </summary>
public static class TrainingEvaluation
{
    public static IReadOnlyList<TrainingEvalScore> Evaluate(EmbeddingGemmaModel model, IReadOnlyList<TrainingDataset> data, IReadOnlyList<int> dimensions,
        IReadOnlyDictionary<string, string>? prompts = null, int maxSeqLength = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(dimensions);
        prompts ??= ColumnPrompts.Defaults;
        var scores = new List<TrainingEvalScore>();
        foreach (var d in data)
        {
            var columns = d.Columns.Select((c, ci) =>
            {
                var prompt = ColumnPrompts.Resolve(prompts.GetValueOrDefault(c), model.PromptResolver) ?? "";
                var texts = d.Rows.Select(r => r.Texts[ci]).ToList();
                return model.Encode(texts, new EncodeOptions { Prompt = prompt, Truncate = true, MaxTokens = maxSeqLength > 0 ? maxSeqLength : null }, null, cancellationToken);
            }).ToArray();
            foreach (var dim in dimensions.Where(x => x <= model.Dimensions))
            {
                float[][] Cut(float[][] v) => v.Select(x => VectorOps.Truncate(x, dim)).ToArray();
                var cols = columns.Select(Cut).ToArray();
                switch (d.Kind)
                {
                    case TrainingDataKind.ScoredPairs:
                        scores.Add(new(d.Name, "spearman", dim, Correlation.Spearman(
                            cols[0].Select((u, i) => (double)VectorOps.Cosine(u, cols[1][i])).ToArray(), d.Rows.Select(r => r.Label!.Value).ToArray())));
                        break;
                    case TrainingDataKind.Triplets:
                        scores.Add(new(d.Name, "accuracy", dim,
                            cols[0].Select((a, i) => VectorOps.Cosine(a, cols[1][i]) > VectorOps.Cosine(a, cols[2][i]) ? 1.0 : 0.0).Average()));
                        break;
                    default:
                        var sims = VectorOps.CosineMatrix(cols[0], cols[1]);
                        var hits = 0;
                        for (var i = 0; i < cols[0].Length; i++)
                        {
                            var best = 0;
                            for (var j = 1; j < cols[1].Length; j++)
                            {
                                if (sims[i, j] > sims[i, best])
                                {
                                    best = j;
                                }
                            }
                            hits += best == i ? 1 : 0;
                        }
                        scores.Add(new(d.Name, "accuracy@1", dim, (double)hits / cols[0].Length));
                        break;
                }
            }
        }
        return scores;
    }
}
