namespace EmbeddingGemma.Numerics;

/// <summary>
/// Splits <c>count</c> work items into contiguous ranges, one per thread. Which thread computes an item never changes
/// the item's result: kernels compute each output by a fixed sequence of operations.
/// </summary>
internal static class WorkSplitter
{
    /// <summary>Runs <paramref name="body"/>(start, end) over <paramref name="threads"/> contiguous ranges covering 0..count.</summary>
    public static void For(int count, int threads, Action<int, int> body)
    {
        if (count <= 0)
        {
            return;
        }
        threads = Math.Clamp(threads <= 0 ? KernelCatalog.DefaultThreads : threads, 1, count);
        if (threads == 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var start = (int)((long)count * t / threads);
            var end = (int)((long)count * (t + 1) / threads);
            if (end > start)
            {
                body(start, end);
            }
        });
    }
}
