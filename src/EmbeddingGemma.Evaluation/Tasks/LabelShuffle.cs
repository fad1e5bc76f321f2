using EmbeddingGemma.Evaluation.Data;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>
/// The label-permutation control (<c>eval --shuffle-labels</c>): every gold label is moved to another item of the same
/// set, by a seeded permutation that keeps the label distribution (so the chance level is unchanged). Texts and their
/// embeddings stay as they are, so any model, however good, must then score at chance; a score clearly above chance
/// would mean labels reach the scores by another path (a leak in a loader, a task or the metric).
/// <list type="bullet">
/// <item>Retrieval: query i is judged with the relevance judgements of query π(i).</item>
/// <item>STS: gold scores permuted across pairs. Pair classification: labels permuted across pairs.</item>
/// <item>Classification: labels permuted within the train split and within the test split. Clustering: across items.</item>
/// <item>Reranking: per sample, positives are drawn at random from the sample's candidates (same counts).</item>
/// </list>
/// </summary>
public static class LabelShuffle
{
    private static int[] Permutation(int n, Random rng)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }

    public static RetrievalDataset Apply(RetrievalDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var judged = ds.Queries.Where(q => ds.Qrels.ContainsKey(q.Id)).Select(q => q.Id).ToList();
        var p = Permutation(judged.Count, new Random(seed));
        var qrels = new Dictionary<string, IReadOnlyDictionary<string, int>>();
        for (var i = 0; i < judged.Count; i++)
        {
            qrels[judged[i]] = ds.Qrels[judged[p[i]]];
        }
        return ds with { Qrels = qrels };
    }

    public static StsDataset Apply(StsDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var p = Permutation(ds.Pairs.Count, new Random(seed));
        return ds with { Pairs = ds.Pairs.Select((x, i) => x with { Score = ds.Pairs[p[i]].Score }).ToList() };
    }

    public static PairClassificationDataset Apply(PairClassificationDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var p = Permutation(ds.Pairs.Count, new Random(seed));
        return ds with { Pairs = ds.Pairs.Select((x, i) => x with { Label = ds.Pairs[p[i]].Label }).ToList() };
    }

    public static ClassificationDataset Apply(ClassificationDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var rng = new Random(seed);
        return ds with { Train = Labels(ds.Train, rng), Test = Labels(ds.Test, rng) };
    }

    public static ClusteringDataset Apply(ClusteringDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        return ds with { Items = Labels(ds.Items, new Random(seed)) };
    }

    public static RerankingDataset Apply(RerankingDataset ds, int seed)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var rng = new Random(seed);
        var samples = ds.Samples.Select(s =>
        {
            var all = s.Positives.Concat(s.Negatives).ToArray();
            rng.Shuffle(all);
            return s with { Positives = all[..s.Positives.Count], Negatives = all[s.Positives.Count..] };
        }).ToList();
        return ds with { Samples = samples };
    }

    private static List<LabeledText> Labels(IReadOnlyList<LabeledText> items, Random rng)
    {
        var p = Permutation(items.Count, rng);
        return items.Select((x, i) => x with { Label = items[p[i]].Label }).ToList();
    }
}
