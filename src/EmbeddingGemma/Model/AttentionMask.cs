namespace EmbeddingGemma.Model;

/// <summary>
/// Which keys a query sees. Attention is bidirectional (use_bidirectional_attention; never causal). On sliding
/// layers key j is visible from query i iff |i - j| &lt;= W/2 with W the serialized sliding_window (512 -&gt; 256):
/// HF PR #40700 (abs(q-kv) &lt; W//2+1), llama.cpp LLAMA_SWA_TYPE_SYMMETRIC, TEI distance &lt;= window/2.
/// Padding does not exist here: every sequence is encoded at its own length.
/// </summary>
internal static class AttentionMask
{
    /// <summary>The visible key range [start, end) of query <paramref name="i"/> in a sequence of <paramref name="length"/>.</summary>
    public static (int Start, int End) VisibleKeys(int i, int length, bool sliding, int radius) =>
        sliding ? (Math.Max(0, i - radius), Math.Min(length, i + radius + 1)) : (0, length);
}
