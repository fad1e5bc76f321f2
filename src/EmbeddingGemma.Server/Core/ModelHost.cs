using EmbeddingGemma.Server.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmbeddingGemma.Server.Core;

/// <summary>Where the model stands: loading (503), ready, failed (503 with the error) or stopping (503).</summary>
public enum ModelState
{
    Loading,
    Ready,
    Failed,
    Stopping,
}

/// <summary>Loads the engine for the server. The default one loads <see cref="EmbeddingServerOptions.Model"/>.</summary>
public delegate IEmbeddingBackend BackendLoader(EmbeddingServerOptions options, CancellationToken cancellationToken);

/// <summary>
/// Owns the engine and the batch scheduler. Loading starts in the background once the listener is up, so /health
/// answers 503 while loading. On shutdown it stops admitting requests (503) and waits until the requests in flight
/// have finished (graceful drain) before releasing the engine.
/// </summary>
public sealed partial class ModelHost : IHostedService, IDisposable
{
    private readonly BackendLoader _loader;
    private readonly EmbeddingServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ModelHost> _logger;
    private readonly SearchHost? _search;
    private readonly CancellationTokenSource _loadCts = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IEmbeddingBackend? _backend;
    private BatchScheduler? _scheduler;
    private volatile ModelState _state = ModelState.Loading;
    private int _active;
    private int _disposed;
    private Task? _loadTask;

    public ModelHost(BackendLoader loader, IOptions<EmbeddingServerOptions> options, ServerMetrics metrics,
        IHostApplicationLifetime lifetime, ILogger<ModelHost> logger, SearchHost? search = null)
    {
        _search = search;
        _loader = loader;
        _options = options.Value;
        _metrics = metrics;
        _lifetime = lifetime;
        _logger = logger;
    }

    public ModelState State => _state;

    /// <summary>Why loading failed (when <see cref="State"/> is Failed).</summary>
    public string? LoadError { get; private set; }

    /// <summary>When loading finished (null while loading).</summary>
    public TimeSpan? LoadDuration { get; private set; }

    /// <summary>Completes when the model is ready (or faults when loading failed).</summary>
    public Task Loaded => _loaded.Task;

    public IEmbeddingBackend? Backend => _backend;
    public BatchScheduler? Scheduler => _scheduler;
    public EmbeddingServerOptions Options => _options;
    public ServerMetrics Metrics => _metrics;

    /// <summary>The search index (null when the host was built without one).</summary>
    public SearchHost? Search => _search;

    /// <summary>Requests being served now.</summary>
    public int ActiveRequests => Volatile.Read(ref _active);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _options.Validate();
        _search?.Open(); // a missing or corrupt search database fails the start, naming the file
        _lifetime.ApplicationStarted.Register(() => _loadTask = Task.Run(Load));
        _lifetime.ApplicationStopping.Register(() =>
        {
            if (_state != ModelState.Failed)
            {
                _state = ModelState.Stopping;
            }
            _loadCts.Cancel();
        });
        return Task.CompletedTask;
    }

    private void Load()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            LogLoading(_options.Model ?? "(custom loader)");
            var backend = _loader(_options, _loadCts.Token);
            try
            {
                _search?.Attach(backend); // the same model serves /search; a mismatch with the index fails the load
            }
            catch
            {
                backend.Dispose();
                throw;
            }
            _backend = backend;
            _scheduler = new BatchScheduler(backend, _options, _metrics);
            LoadDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (_state == ModelState.Loading)
            {
                _state = ModelState.Ready;
            }
            _metrics.ModelLoaded.Set(1);
            LogLoaded(backend.Info.ModelName, backend.Info.Dimension, LoadDuration.Value.TotalSeconds);
            _loaded.TrySetResult();
        }
#pragma warning disable CA1031 // a failed load is reported by /health, never crashes the process
        catch (Exception e)
#pragma warning restore CA1031
        {
            LoadError = e.Message;
            _state = ModelState.Failed;
            LogLoadFailed(e, e.Message);
            _loaded.TrySetException(e);
        }
    }

    /// <summary>
    /// Marks a request in flight; throws <see cref="ApiException"/> (Unavailable) while loading, after a failed load
    /// and once shutdown has begun. Dispose the result when the request is done.
    /// </summary>
    public RequestLease BeginRequest()
    {
        Interlocked.Increment(ref _active);
        var state = _state;
        if (state != ModelState.Ready || _scheduler is null || _backend is null)
        {
            Interlocked.Decrement(ref _active);
            _metrics.Rejected.WithLabels(state.ToString().ToLowerInvariant()).Inc();
            throw new ApiException(ApiErrorType.Unavailable, state switch
            {
                ModelState.Loading => "The model is still loading. Retry shortly.",
                ModelState.Failed => "The model failed to load: " + LoadError,
                _ => "The server is shutting down.",
            })
            { RetryAfterSeconds = state == ModelState.Failed ? null : _options.RetryAfterSeconds };
        }
        return new RequestLease(this, _backend, _scheduler);
    }

    internal void EndRequest() => Interlocked.Decrement(ref _active);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_state != ModelState.Failed)
        {
            _state = ModelState.Stopping;
        }
        _loadCts.Cancel();
        try
        {
            while (Volatile.Read(ref _active) > 0)
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            LogDrainTimeout(Volatile.Read(ref _active));
        }
        if (_loadTask is not null)
        {
            try
            {
                await _loadTask.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _scheduler?.Dispose();
        _backend?.Dispose();
        _loadCts.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading model {Model}")]
    private partial void LogLoading(string model);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Name} ready: {Dimension} dimensions, loaded in {Seconds:F1} s")]
    private partial void LogLoaded(string name, int dimension, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model failed to load: {Reason}")]
    private partial void LogLoadFailed(Exception e, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown timeout: {Count} requests still in flight")]
    private partial void LogDrainTimeout(int count);
}

/// <summary>A request in flight: the engine and scheduler it may use. Dispose when the response is written.</summary>
public sealed class RequestLease : IDisposable
{
    private ModelHost? _host;

    internal RequestLease(ModelHost host, IEmbeddingBackend backend, BatchScheduler scheduler)
    {
        _host = host;
        Backend = backend;
        Scheduler = scheduler;
    }

    public IEmbeddingBackend Backend { get; }
    public BatchScheduler Scheduler { get; }

    public void Dispose() => Interlocked.Exchange(ref _host, null)?.EndRequest();
}
