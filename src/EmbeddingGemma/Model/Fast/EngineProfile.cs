using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EmbeddingGemma.Model.Fast;

/// <summary>Phases of the fast forward pass that <see cref="EngineProfile"/> times.</summary>
public enum EnginePhase
{
    Embedding,
    Norms,
    QkvProjection,
    QkNormRope,
    Attention,
    OutputProjection,
    GateUpProjection,
    GeGlu,
    DownProjection,
    Pooling,
}

/// <summary>
/// Wall time per phase of one fast engine, summed over every chunk since the last <see cref="Reset"/>. On when the
/// engine's options say so (<see cref="FastEncoderOptions.Profile"/>, default from <c>EMBEDDINGGEMMA_PROFILE=1</c>);
/// when off the engine holds none and a phase costs one null check. <c>embeddinggemma bench</c> prints the table.
/// </summary>
public sealed class EngineProfile
{
    /// <summary>The environment variable that turns profiling on by default.</summary>
    public const string EnvironmentVariable = "EMBEDDINGGEMMA_PROFILE";

    private readonly long[] _ticks = new long[Enum.GetValues<EnginePhase>().Length];
    private long _tokens;

    /// <summary>True when <c>EMBEDDINGGEMMA_PROFILE</c> is 1 or true.</summary>
    public static bool FromEnvironment() => Environment.GetEnvironmentVariable(EnvironmentVariable) is "1" or "true";

    /// <summary>Adds the time since <paramref name="start"/> (a <see cref="Stopwatch.GetTimestamp"/>) to <paramref name="phase"/>.</summary>
    public void Add(EnginePhase phase, long start) => Interlocked.Add(ref _ticks[(int)phase], Stopwatch.GetTimestamp() - start);

    internal void AddTokens(int tokens) => Interlocked.Add(ref _tokens, tokens);

    /// <summary>Clears the sums.</summary>
    public void Reset()
    {
        for (var i = 0; i < _ticks.Length; i++)
        {
            Interlocked.Exchange(ref _ticks[i], 0);
        }
        Interlocked.Exchange(ref _tokens, 0);
    }

    /// <summary>Seconds per phase since the last reset.</summary>
    public IReadOnlyDictionary<EnginePhase, double> Seconds() =>
        Enum.GetValues<EnginePhase>().ToDictionary(p => p, p => (double)Interlocked.Read(ref _ticks[(int)p]) / Stopwatch.Frequency);

    /// <summary>A text table: phase, seconds, share, microseconds per token.</summary>
    public string Report()
    {
        var secs = Seconds();
        var total = secs.Values.Sum();
        var tokens = Math.Max(1, Interlocked.Read(ref _tokens));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"engine profile: {tokens} tokens, {total:F3} s in timed phases");
        foreach (var (phase, s) in secs.OrderByDescending(kv => kv.Value))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {phase,-17} {s,8:F3} s  {100 * s / Math.Max(total, 1e-12),5:F1}%  {1e6 * s / tokens,8:F1} us/token");
        }
        return sb.ToString();
    }
}
