using System.Runtime.ExceptionServices;

namespace EmbeddingGemma.Numerics;

/// <summary>
/// Splits <c>count</c> work items into contiguous ranges, one per thread. Which thread computes an item never changes
/// the item's result: kernels compute each output by a fixed sequence of operations.
/// <para>
/// Ranges run on a small persistent pool of engine threads that spin briefly between parallel regions before they
/// sleep: a forward pass has a dozen regions per layer, and waking thread-pool workers for each one (as
/// <see cref="Parallel.For(int, int, Action{int})"/> does) costs tens of microseconds a region, which a 32-token query
/// feels. A region started while the pool is busy (another model on another thread) or from inside a region falls
/// back to <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>.
/// </para>
/// </summary>
internal static class WorkSplitter
{
    private static readonly EnginePool s_pool = new();

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
        // The pool spins between regions, which only pays when every thread has a core of its own.
        if (threads <= Environment.ProcessorCount && s_pool.TryRun(count, threads, body))
        {
            return;
        }
        try
        {
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => RunRange(count, threads, t, body));
        }
        catch (AggregateException ae) when (ae.InnerExceptions.Count > 0)
        {
            // The same exception whichever path ran the region.
            ExceptionDispatchInfo.Capture(ae.InnerExceptions[0]).Throw();
        }
    }

    private static void RunRange(int count, int threads, int t, Action<int, int> body)
    {
        var start = (int)((long)count * t / threads);
        var end = (int)((long)count * (t + 1) / threads);
        if (end > start)
        {
            body(start, end);
        }
    }

    /// <summary>Background threads that take ranges 1..threads-1 of one region at a time; the caller takes range 0.</summary>
    private sealed class EnginePool
    {
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5_000;   // 200 µs of spinning before a worker sleeps

        private readonly object _gate = new();
        private readonly List<Thread> _workers = [];
        private readonly SemaphoreSlim _wake = new(0);
        private int _sleeping;
        private long _generation;
        private Job? _job;
        private int _pending;
        private ExceptionDispatchInfo? _error;

        private sealed record Job(long Generation, Action<int, int> Body, int Count, int Threads);

        [ThreadStatic] private static bool t_inside;

        public bool TryRun(int count, int threads, Action<int, int> body)
        {
            if (t_inside || !Monitor.TryEnter(_gate))
            {
                return false;
            }
            try
            {
                t_inside = true;
                while (_workers.Count < threads - 1)
                {
                    var index = _workers.Count + 1;
                    var th = new Thread(() => Work(index)) { IsBackground = true, Name = $"EmbeddingGemma engine {index}" };
                    _workers.Add(th);
                    th.Start();
                }
                _error = null;
                Volatile.Write(ref _pending, threads - 1);
                Volatile.Write(ref _job, new Job(_generation + 1, body, count, threads));
                Interlocked.Increment(ref _generation);
                var sleeping = Volatile.Read(ref _sleeping);
                if (sleeping > 0)
                {
                    _wake.Release(sleeping);
                }
                try
                {
                    RunRange(count, threads, 0, body);
                }
                catch (Exception e)
                {
                    _error ??= ExceptionDispatchInfo.Capture(e);
                }
                // Never Sleep(1) here (SpinWait's default): a millisecond per region would dwarf a short query's work.
                var spin = new SpinWait();
                while (Volatile.Read(ref _pending) > 0)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
                _error?.Throw();
                return true;
            }
            finally
            {
                t_inside = false;
                Monitor.Exit(_gate);
            }
        }

        private void Work(int index)
        {
            t_inside = true;
            long seen = 0;
            while (true)
            {
                var since = System.Diagnostics.Stopwatch.GetTimestamp();
                while (Volatile.Read(ref _generation) == seen)
                {
                    if (System.Diagnostics.Stopwatch.GetTimestamp() - since < SpinTicks)
                    {
                        Thread.SpinWait(4);
                        continue;
                    }
                    Interlocked.Increment(ref _sleeping);
                    if (Volatile.Read(ref _generation) == seen)
                    {
                        _wake.Wait();
                    }
                    Interlocked.Decrement(ref _sleeping);
                    since = System.Diagnostics.Stopwatch.GetTimestamp();
                }
                var job = Volatile.Read(ref _job)!;
                seen = job.Generation;
                if (index < job.Threads)
                {
                    try
                    {
                        RunRange(job.Count, job.Threads, index, job.Body);
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                    }
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
    }
}
