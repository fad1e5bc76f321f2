using System.Diagnostics;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Evaluation.Tasks;

/// <summary>MTEB task types.</summary>
public enum EvalTaskType
{
    Retrieval,
    STS,
    Classification,
    Clustering,
    PairClassification,
    Reranking,
}

/// <summary>What a task run needs: the model, its embedding cache, the Matryoshka sizes and the seed.</summary>
public sealed class EvalContext
{
    public EvalContext(EvalModel model, IReadOnlyList<int> dimensions, EmbeddingCache? cache = null, int seed = 42)
    {
        Model = model;
        Dimensions = dimensions;
        Cache = cache ?? (model.Generator is null ? null : new EmbeddingCache(model.Generator));
        Seed = seed;
    }

    public EvalModel Model { get; }

    /// <summary>Requested Matryoshka sizes (largest first is the usual order).</summary>
    public IReadOnlyList<int> Dimensions { get; }

    public EmbeddingCache? Cache { get; }

    public int Seed { get; }

    /// <summary>The label-permutation control: tasks permute their gold labels (<see cref="LabelShuffle"/>) before scoring.</summary>
    public bool ShuffleLabels { get; init; }

    /// <summary>The dataset as the task scores it: as loaded, or label-permuted under <see cref="ShuffleLabels"/>.</summary>
    public T Prepare<T>(T dataset) where T : class => !ShuffleLabels ? dataset : dataset switch
    {
        Data.RetrievalDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        Data.StsDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        Data.PairClassificationDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        Data.ClassificationDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        Data.ClusteringDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        Data.RerankingDataset d => (T)(object)LabelShuffle.Apply(d, Seed),
        _ => throw new ArgumentException($"No label permutation for {typeof(T).Name}.", nameof(dataset)),
    };

    /// <summary>The requested sizes the model can give (&lt;= its native size); the native size when none can.</summary>
    public IReadOnlyList<int> EffectiveDimensions(int native)
    {
        var dims = Dimensions.Where(d => d > 0 && d <= native).Distinct().OrderDescending().ToList();
        return dims.Count > 0 ? dims : [native];
    }

    internal EmbeddingCache RequireCache() => Cache ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"model '{Model.Name}' has no embedding generator.");
}

/// <summary>Scores at one embedding size (<see cref="Dimensions"/> null for a lexical model): the task's main score and every metric under its MTEB name.</summary>
public sealed record DimensionScore(int? Dimensions, double MainScore, IReadOnlyDictionary<string, double> Metrics);

/// <summary>The result of one task for one model.</summary>
public sealed record TaskResult(
    string Task,
    EvalTaskType Type,
    IReadOnlyList<string> Languages,
    string MainMetric,
    IReadOnlyList<DimensionScore> Scores,
    double? ChanceLevel,
    string? Note,
    double Seconds);

/// <summary>An evaluation task: loads its data lazily, runs a model at each requested size, reports MTEB-named metrics.</summary>
public abstract class EvalTask
{
    protected EvalTask(string name, EvalTaskType type, string mainMetric, IReadOnlyList<string> languages)
    {
        Name = name;
        Type = type;
        MainMetric = mainMetric;
        Languages = languages;
    }

    public string Name { get; }

    public EvalTaskType Type { get; }

    /// <summary>MTEB name of the main score (ndcg_at_10, cosine_spearman, accuracy, v_measure, max_ap, map).</summary>
    public string MainMetric { get; }

    public IReadOnlyList<string> Languages { get; }

    /// <summary>Whether the BM25 baseline can run this task (retrieval and reranking only).</summary>
    public virtual bool SupportsLexical => false;

    public async Task<TaskResult> RunAsync(EvalContext context, CancellationToken cancellationToken = default)
    {
        var sw = Stopwatch.StartNew();
        if (context.Model.IsLexical && !SupportsLexical)
        {
            return new TaskResult(Name, Type, Languages, MainMetric, [], null, $"not applicable to the lexical model '{context.Model.Name}'", 0);
        }
        var (scores, chance, note) = await RunCoreAsync(context, cancellationToken).ConfigureAwait(false);
        return new TaskResult(Name, Type, Languages, MainMetric, scores, chance, note, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Runs the task: the scores per size, the main score of a chance-level predictor, and a note (sizes, counts).</summary>
    protected abstract Task<(IReadOnlyList<DimensionScore> Scores, double? Chance, string? Note)> RunCoreAsync(EvalContext context, CancellationToken cancellationToken);

    internal static float[] CosineRows(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        var s = new float[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            s[i] = VectorOps.Cosine(a[i], b[i]);
        }
        return s;
    }
}
