using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Server.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmbeddingGemma.Server.Core;

/// <summary>
/// The optional search index of the server (<see cref="EmbeddingServerOptions.SearchDatabase"/>): opened read-only at
/// startup (a missing or corrupt file fails the start, naming the file), then bound to the model the server already
/// loaded (no second load) once it is ready; a model mismatch between index and model (their fingerprints differ,
/// see <c>EmbeddingGemmaModel.Fingerprint</c>) or a dimension the model cannot produce fails the load, so /health
/// reports "failed" with the error naming both fingerprints.
/// </summary>
public sealed partial class SearchHost : IDisposable
{
    private readonly string? _path;
    private readonly ILogger _logger;
    private SemanticIndex? _index;
    private volatile SearchService? _service;

    public SearchHost(IOptions<EmbeddingServerOptions> options, ILogger<SearchHost>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _path = string.IsNullOrWhiteSpace(options.Value.SearchDatabase) ? null : options.Value.SearchDatabase;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>True when the server was given a search database.</summary>
    public bool Enabled => _path is not null;

    /// <summary>The open index (null without a database or before <see cref="Open"/>).</summary>
    public SemanticIndex? Index => _index;

    /// <summary>The search service (null until the model is attached).</summary>
    public SearchService? Service => _service;

    /// <summary>Opens the index read-only (idempotent). Throws <see cref="EmbeddingGemmaException"/> naming the file.</summary>
    public void Open()
    {
        if (_path is null || _index is not null)
        {
            return;
        }
        _index = SemanticIndex.Open(_path, new SemanticIndexOptions { ReadOnly = true, Warning = LogWarning });
    }

    /// <summary>
    /// Binds the index to the loaded model: same model identity and a dimension the model can produce (its full size
    /// or a Matryoshka truncation of it), else <see cref="EmbeddingGemmaException"/> (InvalidArgument) naming the file.
    /// </summary>
    public void Attach(IEmbeddingBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (_path is null)
        {
            return;
        }
        Open();
        var index = _index!;
        if (backend is not EmbeddingGemmaBackend gemma)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Search database {index.Path}: search needs an EmbeddingGemma model backend; got {backend.GetType().Name}.") { FilePath = index.Path };
        }
        var generator = new EmbeddingGemmaGenerator(gemma.Model);
        var engine = new SemanticSearchEngine(index, generator, new SemanticSearchEngineOptions
        {
            Dimensions = index.Dimension,
            ModelSpec = gemma.Model.Source,
            ModelFingerprint = gemma.Model.Fingerprint,
            Warning = LogWarning,
        });
        try
        {
            engine.VerifyModel();
        }
        catch (EmbeddingGemmaException e)
        {
            throw new EmbeddingGemmaException(e.Kind, $"Search database: {e.Message} Start the server with the model the index was built with.", e) { FilePath = index.Path };
        }
        if (index.ModelId is not null && index.ModelFingerprint is null)
        {
            LogWarning($"Search database {index.Path} records no model fingerprint (written by an older version): it cannot be checked that the served model is the one its vectors came from. Run `embeddinggemma index` once with this model to record it.");
        }
        if (index.Dimension is int d && (d < 1 || d > gemma.Model.Dimensions))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Dimension mismatch: search database {index.Path} holds {d}-dimension vectors; the model '{generator.ModelId}' produces at most {gemma.Model.Dimensions}.") { FilePath = index.Path };
        }
        _service = new SearchService(engine);
    }

    private void LogWarning(string message) => LogIndexWarning(message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private partial void LogIndexWarning(string message);

    public void Dispose() => _index?.Dispose();
}
