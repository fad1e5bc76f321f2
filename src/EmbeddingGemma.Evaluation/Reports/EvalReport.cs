using System.Text.Json;
using System.Text.Json.Serialization;
using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Evaluation.Reports;

/// <summary>Means of the main scores at one size: over tasks (MTEB "Mean (Task)"), over task types (mean of the
/// per-type means, "Mean (TaskType)"), and per type. <see cref="Dimensions"/> null = the lexical model.</summary>
public sealed record MeanScores(int? Dimensions, double MeanTask, double MeanTaskType, IReadOnlyDictionary<string, double> PerType, int TaskCount);

/// <summary>Retention in percent of a reference: another model at the same size (<see cref="Reference"/> names it),
/// or the same model's largest size.</summary>
public sealed record Retention(int? Dimensions, string Reference, double MeanTaskPercent, double MeanTaskTypePercent);

/// <summary>All results of one model.</summary>
public sealed record ModelReport(
    string Model,
    int? NativeDimensions,
    int EncodedTexts,
    double Seconds,
    IReadOnlyList<TaskResult> Tasks,
    IReadOnlyList<MeanScores> Means,
    IReadOnlyList<Retention> Retention)
{
    /// <summary><c>embeddinggemma</c> or <c>embeddinggemma2</c> for an EmbeddingGemma model (so v1 and v2 are told apart in one report); null for baselines.</summary>
    public string? Architecture { get; init; }
}

/// <summary>The whole report: one entry per model, in the order given (the first is the reference for retention).</summary>
public sealed record EvalReport(string? DataRoot, IReadOnlyList<int> Dimensions, DateTime CreatedUtc, IReadOnlyList<ModelReport> Models)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static EvalReport FromJson(string json) =>
        JsonSerializer.Deserialize<EvalReport>(json, Json) ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "empty report JSON.");

    /// <summary>Means per size over the tasks that have a score at that size.</summary>
    public static List<MeanScores> ComputeMeans(IReadOnlyList<TaskResult> tasks)
    {
        var sizes = tasks.SelectMany(t => t.Scores.Select(s => s.Dimensions)).Distinct().OrderByDescending(d => d ?? int.MaxValue).ToList();
        var means = new List<MeanScores>();
        foreach (var size in sizes)
        {
            var scored = tasks.Select(t => (t.Type, Score: t.Scores.FirstOrDefault(s => s.Dimensions == size))).Where(p => p.Score is not null).ToList();
            if (scored.Count == 0)
            {
                continue;
            }
            var perType = scored.GroupBy(p => p.Type).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(), g => g.Average(p => p.Score!.MainScore));
            means.Add(new MeanScores(size, scored.Average(p => p.Score!.MainScore), perType.Values.Average(), perType, scored.Count));
        }
        return means;
    }

    /// <summary>Retention of this model vs the reference model at the same size, and vs its own largest size.</summary>
    public static List<Retention> ComputeRetention(IReadOnlyList<MeanScores> means, ModelReport? reference)
    {
        var r = new List<Retention>();
        if (reference is not null)
        {
            foreach (var m in means)
            {
                var baseline = reference.Means.FirstOrDefault(b => b.Dimensions == m.Dimensions);
                if (baseline is not null && baseline.MeanTask != 0)
                {
                    r.Add(new Retention(m.Dimensions, reference.Model, 100 * m.MeanTask / baseline.MeanTask, 100 * m.MeanTaskType / baseline.MeanTaskType));
                }
            }
        }
        var largest = means.Where(m => m.Dimensions is not null).OrderByDescending(m => m.Dimensions).FirstOrDefault();
        if (largest is not null && largest.MeanTask != 0)
        {
            foreach (var m in means.Where(m => m.Dimensions is not null && m != largest))
            {
                r.Add(new Retention(m.Dimensions, $"own {largest.Dimensions}d", 100 * m.MeanTask / largest.MeanTask, 100 * m.MeanTaskType / largest.MeanTaskType));
            }
        }
        return r;
    }
}
