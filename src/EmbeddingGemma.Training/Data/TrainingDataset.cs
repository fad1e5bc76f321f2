namespace EmbeddingGemma.Training.Data;

/// <summary>What the rows of a dataset are; one loss applies per kind (batches never mix kinds).</summary>
public enum TrainingDataKind
{
    /// <summary>(text1, text2, score): the article's <c>{type:"similarity"}</c>, sentence-transformers' sentence1/sentence2/score.</summary>
    ScoredPairs,

    /// <summary>(anchor, positive): plain pairs, in-batch negatives (MNRL).</summary>
    Pairs,

    /// <summary>(anchor, positive, negative): the article's <c>{type:"triplet"}</c>.</summary>
    Triplets,
}

/// <summary>One training row: its texts in column order, its label (scored pairs) and where it came from (file:line).</summary>
public sealed record TrainingRow(string[] Texts, double? Label, string Origin);

/// <summary>
/// Rows of one kind from one source, with their column names: <c>text1, text2</c> (scored pairs), <c>anchor, positive</c>
/// (pairs) or <c>anchor, positive, negative</c> (triplets). The column names are what prompts are keyed by.
/// </summary>
public sealed record TrainingDataset(string Name, TrainingDataKind Kind, IReadOnlyList<TrainingRow> Rows)
{
    /// <summary>The column names of <paramref name="kind"/>.</summary>
    public static IReadOnlyList<string> ColumnsOf(TrainingDataKind kind) => kind switch
    {
        TrainingDataKind.ScoredPairs => ["text1", "text2"],
        TrainingDataKind.Pairs => ["anchor", "positive"],
        TrainingDataKind.Triplets => ["anchor", "positive", "negative"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The column names of this dataset.</summary>
    public IReadOnlyList<string> Columns => ColumnsOf(Kind);

    /// <summary>The name used in messages and logs: similarity, pairs or triplet.</summary>
    public static string KindName(TrainingDataKind kind) => kind switch
    {
        TrainingDataKind.ScoredPairs => "similarity",
        TrainingDataKind.Pairs => "pair",
        TrainingDataKind.Triplets => "triplet",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
