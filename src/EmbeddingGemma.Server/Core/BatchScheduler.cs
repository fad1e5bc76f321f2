using System.Diagnostics;
using System.Threading.Channels;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Server.Engine;

namespace EmbeddingGemma.Server.Core;

/// <summary>
/// Bounded admission + token-budget dynamic batching across concurrent requests, run by one dedicated worker thread.
/// Inputs are admitted per input (like TEI's per-input permits): when admitting a whole request would exceed
/// <see cref="EmbeddingServerOptions.MaxQueuedInputs"/>, the request is refused at once (429). Batches are filled
/// FIFO until <see cref="EmbeddingServerOptions.MaxBatchTokens"/> (sum of sequence lengths) or
/// <see cref="EmbeddingServerOptions.MaxBatchRequests"/>; a longer sequence runs alone. Work whose client went away
/// is dropped before it reaches the engine.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    private readonly IEmbeddingBackend _backend;
    private readonly EmbeddingServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly Channel<WorkItem> _channel = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Thread _worker;
    private readonly CancellationTokenSource _abort = new();
    private int _pending;
    private long _batches;
    private int _disposed;

    public BatchScheduler(IEmbeddingBackend backend, EmbeddingServerOptions options, ServerMetrics metrics)
    {
        _backend = backend;
        _options = options;
        _metrics = metrics;
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "embeddinggemma-batcher" };
        _worker.Start();
    }

    /// <summary>Inputs admitted and not yet finished.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Batches run so far.</summary>
    public long BatchesRun => Interlocked.Read(ref _batches);

    /// <summary>
    /// Admits and queues the tokenized inputs of one request; returns one task per input. Throws
    /// <see cref="ApiException"/> (Overloaded) when the queue cannot take them all.
    /// </summary>
    public IReadOnlyList<Task<BatchResult>> Enqueue(IReadOnlyList<TokenizedInput> inputs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int n = inputs.Count;
        while (true)
        {
            int current = Volatile.Read(ref _pending);
            if (current + n > _options.MaxQueuedInputs)
            {
                _metrics.Rejected.WithLabels("overloaded").Inc();
                throw new ApiException(ApiErrorType.Overloaded,
                    $"The model is overloaded: {current} inputs are queued or running and this request adds {n} (limit {_options.MaxQueuedInputs}). Retry later.")
                { RetryAfterSeconds = _options.RetryAfterSeconds };
            }
            if (Interlocked.CompareExchange(ref _pending, current + n, current) == current)
            {
                break;
            }
        }
        _metrics.QueueDepth.Set(Pending);
        var tasks = new Task<BatchResult>[n];
        for (int i = 0; i < n; i++)
        {
            var item = new WorkItem(inputs[i], cancellationToken, this);
            tasks[i] = item.Completion.Task;
            if (!_channel.Writer.TryWrite(item) && item.TryTake())
            {
                item.Fail(new ApiException(ApiErrorType.Unavailable, "The server is shutting down.") { RetryAfterSeconds = _options.RetryAfterSeconds });
            }
        }
        return tasks;
    }

    /// <summary>Waits until every admitted input has finished (graceful drain), or the token fires.</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (Pending > 0)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Release(int n)
    {
        Interlocked.Add(ref _pending, -n);
        _metrics.QueueDepth.Set(Pending);
    }

    private void WorkerLoop()
    {
        var reader = _channel.Reader;
        WorkItem? carry = null;
        var batch = new List<WorkItem>();
        try
        {
            while (carry is not null || reader.WaitToReadAsync(_abort.Token).AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                int tokens = 0;
                while (batch.Count < _options.MaxBatchRequests)
                {
                    WorkItem? item = carry; // a carried item was already claimed
                    carry = null;
                    if (item is null)
                    {
                        if (!reader.TryRead(out item))
                        {
                            break;
                        }
                        if (!item.TryTake())
                        {
                            continue; // client gone: already released and counted as dropped
                        }
                    }
                    if (batch.Count > 0 && tokens + item.Input.TokenCount > _options.MaxBatchTokens)
                    {
                        carry = item;
                        break;
                    }
                    batch.Add(item);
                    tokens += item.Input.TokenCount;
                }
                if (batch.Count > 0)
                {
                    RunBatch(batch, tokens);
                }
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }
        // Fail whatever is left (only on abort; a normal completion drains the channel first).
        var leftovers = new List<WorkItem>();
        while (reader.TryRead(out var rest))
        {
            leftovers.Add(rest);
        }
        if (carry is not null)
        {
            carry.Fail(new ApiException(ApiErrorType.Unavailable, "The server is shutting down."));
        }
        foreach (var item in leftovers)
        {
            if (item.TryTake())
            {
                item.Fail(new ApiException(ApiErrorType.Unavailable, "The server is shutting down."));
            }
        }
    }

    private void RunBatch(List<WorkItem> batch, int tokens)
    {
        long start = Stopwatch.GetTimestamp();
        float[][] vectors;
        try
        {
            var inputs = new TokenizedInput[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                inputs[i] = batch[i].Input;
            }
            vectors = _backend.EmbedBatch(inputs, _abort.Token);
            if (vectors.Length != batch.Count)
            {
                throw new InvalidOperationException($"The engine returned {vectors.Length} vectors for {batch.Count} sequences.");
            }
        }
#pragma warning disable CA1031 // a failing batch must fail its requests, never the worker
        catch (Exception e)
#pragma warning restore CA1031
        {
            var error = e as ApiException ?? (e is EmbeddingGemmaException ge ? ApiException.From(ge)
                : new ApiException(ApiErrorType.Internal, "Inference failed: " + e.Message, null, e));
            foreach (var item in batch)
            {
                item.Fail(error);
            }
            return;
        }
        long end = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _batches);
        _metrics.BatchSize.Observe(batch.Count);
        _metrics.BatchTokens.Observe(tokens);
        _metrics.Tokens.Inc(tokens);
        _metrics.Inputs.Inc(batch.Count);
        var inference = Stopwatch.GetElapsedTime(start, end);
        for (int i = 0; i < batch.Count; i++)
        {
            var item = batch[i];
            item.Complete(new BatchResult(vectors[i], Stopwatch.GetElapsedTime(item.EnqueuedAt, start), inference, batch.Count));
        }
    }

    /// <summary>Stops taking work: queued inputs are still run unless <see cref="Dispose"/> aborts them.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _channel.Writer.TryComplete();
        _abort.Cancel();
        _worker.Join(TimeSpan.FromSeconds(30));
        _abort.Dispose();
    }

    private sealed class WorkItem
    {
        private const int Queued = 0, Taken = 1, Cancelled = 2;
        private readonly BatchScheduler _owner;
        private readonly CancellationTokenRegistration _registration;
        private int _state;

        public WorkItem(TokenizedInput input, CancellationToken cancellationToken, BatchScheduler owner)
        {
            Input = input;
            _owner = owner;
            EnqueuedAt = Stopwatch.GetTimestamp();
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.Register(static s => ((WorkItem)s!).OnCancelled(), this);
            }
        }

        public TokenizedInput Input { get; }
        public long EnqueuedAt { get; }
        public TaskCompletionSource<BatchResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private void OnCancelled()
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued)
            {
                _owner._metrics.Dropped.Inc();
                _owner.Release(1);
                Completion.TrySetCanceled();
            }
        }

        /// <summary>Claims the item for a batch; false when its client already went away.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        public void Complete(BatchResult result)
        {
            _registration.Dispose();
            _owner.Release(1);
            Completion.TrySetResult(result);
        }

        public void Fail(Exception e)
        {
            _registration.Dispose();
            _owner.Release(1);
            Completion.TrySetException(e);
        }
    }
}

/// <summary>One raw vector with the time its input waited in the queue and the time of its batch's forward pass.</summary>
public sealed record BatchResult(float[] Raw, TimeSpan Queue, TimeSpan Inference, int BatchSize);
