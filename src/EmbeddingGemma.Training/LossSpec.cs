using EmbeddingGemma.Training.Data;
using EmbeddingGemma.Training.Losses;

namespace EmbeddingGemma.Training;

/// <summary>
/// The losses by name (CLI <c>--loss</c>) and which data kinds each takes:
/// <c>cosine</c> (MSE on cosine; similarity pairs), <c>cosent</c> (CoSENT; similarity pairs), <c>cosine-triplet</c>
/// (the article's, margin 0.5; triplets), <c>triplet</c> (Euclidean, margin 5; triplets), <c>mnrl</c> and
/// <c>cached-mnrl</c> (in-batch negatives, scale 20; pairs and triplets, the negative as a hard negative; the cached
/// variant backpropagates in mini-batches of <see cref="TrainerOptions.MiniBatch"/>). A spec is one name for every
/// kind, or <c>KIND=NAME</c> items separated by commas (kinds: similarity, pair, triplet); <c>auto</c> (default):
/// similarity → cosine, pair → mnrl, triplet → mnrl; the article preset: similarity → cosine, triplet → cosine-triplet.
/// </summary>
public static class LossSpec
{
    /// <summary>Every loss name.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cosine", "cosine-triplet", "mnrl", "cached-mnrl", "cosent", "triplet"];

    /// <summary>The kinds a loss takes.</summary>
    public static IReadOnlyList<TrainingDataKind> KindsOf(string name) => name switch
    {
        "cosine" or "cosent" => [TrainingDataKind.ScoredPairs],
        "cosine-triplet" or "triplet" => [TrainingDataKind.Triplets],
        "mnrl" or "cached-mnrl" => [TrainingDataKind.Pairs, TrainingDataKind.Triplets],
        _ => throw Unknown(name),
    };

    /// <summary>True for losses whose batches must hold no duplicate text (in-batch negatives).</summary>
    public static bool NeedsNoDuplicates(string name) => name is "mnrl" or "cached-mnrl";

    /// <summary>The loss name for each kind under <paramref name="spec"/>.</summary>
    public static IReadOnlyDictionary<TrainingDataKind, string> Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var result = new Dictionary<TrainingDataKind, string>
        {
            [TrainingDataKind.ScoredPairs] = "cosine",
            [TrainingDataKind.Pairs] = "mnrl",
            [TrainingDataKind.Triplets] = "mnrl",
        };
        var s = spec.Trim().ToLowerInvariant();
        if (s is "" or "auto")
        {
            return result;
        }
        if (!s.Contains('=', StringComparison.Ordinal))
        {
            KindsOf(s);
            var kinds = KindsOf(s);
            foreach (var k in result.Keys.ToList())
            {
                result[k] = kinds.Contains(k) ? s : "";   // "" : this loss cannot take that kind (error if such data is given)
            }
            return result;
        }
        foreach (var item in s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            var kindName = eq > 0 ? item[..eq].Trim() : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--loss item '{item}': expected KIND=LOSS (kinds: similarity, pair, triplet).");
            var loss = item[(eq + 1)..].Trim();
            var kind = kindName switch
            {
                "similarity" => TrainingDataKind.ScoredPairs,
                "pair" or "pairs" => TrainingDataKind.Pairs,
                "triplet" or "triplets" => TrainingDataKind.Triplets,
                _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--loss item '{item}': unknown kind '{kindName}' (kinds: similarity, pair, triplet)."),
            };
            if (!KindsOf(loss).Contains(kind))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--loss item '{item}': {loss} does not take {kindName} rows (it takes {string.Join(", ", KindsOf(loss).Select(TrainingDataset.KindName))}).");
            }
            result[kind] = loss;
        }
        return result;
    }

    /// <summary>The loss object of <paramref name="name"/>, wrapped in Matryoshka when <paramref name="matryoshka"/> is given.</summary>
    public static EmbeddingLoss Create(string name, IReadOnlyList<int>? matryoshka)
    {
        EmbeddingLoss loss = name switch
        {
            "cosine" => new CosineSimilarityLoss(),
            "cosent" => new CoSentLoss(),
            "cosine-triplet" => new CosineTripletLoss(),
            "triplet" => new TripletLoss(),
            "mnrl" or "cached-mnrl" => new MultipleNegativesRankingLoss(),
            _ => throw Unknown(name),
        };
        return matryoshka is { Count: > 0 } ? new MatryoshkaLoss(loss, matryoshka) : loss;
    }

    private static EmbeddingGemmaException Unknown(string name) =>
        new(ErrorKind.InvalidArgument, $"unknown loss '{name}' (losses: {string.Join(", ", Names)}, or auto).");
}
