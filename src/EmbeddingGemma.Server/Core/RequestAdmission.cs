namespace EmbeddingGemma.Server.Core;

/// <summary>
/// Admission by memory: a counter of request-body bytes in flight (read, parsed, tokenized, queued or being answered)
/// with the bound <see cref="EmbeddingServerOptions.MaxInFlightBytes"/>. A request takes its bytes BEFORE its body is
/// read, from Content-Length (a chunked body takes them as they arrive), and gives them back when its response is
/// complete; a request that would pass the bound gets 503 with Retry-After at once, before its body is parsed. Since
/// everything a request holds (body buffer, JSON document, strings, token ids) is proportional to its body, this bounds
/// the server's request memory; <see cref="EmbeddingServerOptions.MaxQueuedInputs"/> still bounds the inputs queued.
/// </summary>
public sealed class RequestAdmission
{
    private readonly ServerMetrics? _metrics;
    private long _inFlight;
    private long _peak;

    public RequestAdmission(long limit, ServerMetrics? metrics = null)
    {
        if (limit <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The in-flight byte bound must be positive.");
        }
        Limit = limit;
        _metrics = metrics;
    }

    /// <summary>The bound on request-body bytes in flight.</summary>
    public long Limit { get; }

    /// <summary>Request-body bytes in flight now.</summary>
    public long InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most request-body bytes ever in flight at once (never above <see cref="Limit"/>).</summary>
    public long Peak => Volatile.Read(ref _peak);

    /// <summary>Takes <paramref name="bytes"/> when they fit under the bound; false (nothing taken) otherwise.</summary>
    public bool TryAcquire(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            long current = Volatile.Read(ref _inFlight);
            long next = current + bytes;
            if (next > Limit)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _inFlight, next, current) == current)
            {
                long peak;
                while (next > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, next, peak) != peak)
                {
                }
                _metrics?.InFlightBodyBytes.Set(next);
                _metrics?.InFlightBodyBytesPeak.Set(Peak);
                return true;
            }
        }
    }

    /// <summary>Gives back bytes taken with <see cref="TryAcquire"/>.</summary>
    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long now = Interlocked.Add(ref _inFlight, -bytes);
        _metrics?.InFlightBodyBytes.Set(now);
    }

    /// <summary>A request's share: bytes taken so far, all given back on dispose.</summary>
    public Lease Begin() => new(this);

    /// <summary>The bytes one request holds.</summary>
    public sealed class Lease : IDisposable
    {
        private RequestAdmission? _owner;
        private long _held;

        internal Lease(RequestAdmission owner) => _owner = owner;

        /// <summary>Bytes held.</summary>
        public long Held => Volatile.Read(ref _held);

        /// <summary>Takes <paramref name="bytes"/> more; false when they do not fit (nothing more is taken).</summary>
        public bool TryAdd(long bytes)
        {
            var owner = _owner ?? throw new ObjectDisposedException(nameof(Lease));
            if (!owner.TryAcquire(bytes))
            {
                return false;
            }
            Interlocked.Add(ref _held, bytes);
            return true;
        }

        public void Dispose()
        {
            var owner = Interlocked.Exchange(ref _owner, null);
            if (owner is not null)
            {
                owner.Release(Interlocked.Exchange(ref _held, 0));
            }
        }
    }
}
