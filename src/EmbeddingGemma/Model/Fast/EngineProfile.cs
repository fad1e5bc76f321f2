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
/// Wall time per phase of the fast engine, summed over every chunk since the last <see cref="Reset"/>. Off unless
/// <c>EMBEDDINGGEMMA_PROFILE=1</c> (or <see cref="Enabled"/> is set); when off, a phase costs one branch.
/// <c>embeddinggemma bench</c> prints the table after each run when it is on.
/// </summary>
public static class EngineProfile
{
    /// <summary>The environment variable that turns profiling on.</summary>
    public const string EnvironmentVariable = "EMBEDDINGGEMMA_PROFILE";

    private static readonly long[] s_ticks = new long[Enum.GetValues<EnginePhase>().Length];
    private static long s_tokens;

    /// <summary>Whether phases are timed.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable(EnvironmentVariable) is "1" or "true";

    /// <summary>Timestamp to pass to <see cref="Add"/> (0 when off).</summary>
    public static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Adds the time since <paramref name="start"/> to <paramref name="phase"/>.</summary>
    public static void Add(EnginePhase phase, long start)
    {
        if (Enabled)
        {
            Interlocked.Add(ref s_ticks[(int)phase], Stopwatch.GetTimestamp() - start);
        }
    }

    internal static void AddTokens(int tokens)
    {
        if (Enabled)
        {
            Interlocked.Add(ref s_tokens, tokens);
        }
    }

    /// <summary>Clears the sums.</summary>
    public static void Reset()
    {
        Array.Clear(s_ticks);
        Interlocked.Exchange(ref s_tokens, 0);
    }

    /// <summary>Seconds per phase since the last reset.</summary>
    public static IReadOnlyDictionary<EnginePhase, double> Seconds() =>
        Enum.GetValues<EnginePhase>().ToDictionary(p => p, p => (double)Interlocked.Read(ref s_ticks[(int)p]) / Stopwatch.Frequency);

    /// <summary>A text table: phase, seconds, share, microseconds per token.</summary>
    public static string Report()
    {
        var secs = Seconds();
        var total = secs.Values.Sum();
        var tokens = Math.Max(1, Interlocked.Read(ref s_tokens));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"engine profile: {tokens} tokens, {total:F3} s in timed phases");
        foreach (var (phase, s) in secs.OrderByDescending(kv => kv.Value))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {phase,-17} {s,8:F3} s  {100 * s / Math.Max(total, 1e-12),5:F1}%  {1e6 * s / tokens,8:F1} us/token");
        }
        return sb.ToString();
    }
}
