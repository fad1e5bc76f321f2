namespace EmbeddingGemma.Tokenization;

/// <summary>
/// Counts the elementary steps of encoding on the current thread (characters scanned, trie steps, BPE symbols and
/// heap pops), so a test can show the work grows linearly with the input, whatever the input.
/// </summary>
internal static class WorkCounter
{
    [ThreadStatic]
    private static long t_steps;

    public static long Steps => t_steps;

    public static void Add(long steps) => t_steps += steps;
}
