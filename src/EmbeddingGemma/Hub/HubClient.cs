using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace EmbeddingGemma.Hub;

/// <summary>One file of a repository as listed by the Hub API.</summary>
/// <param name="Path">Path inside the repository, '/' separated.</param>
/// <param name="Size">Size in bytes, or -1 when the listing did not say.</param>
/// <param name="Sha256">For LFS files, the sha256 of the content (lower-case hex); null otherwise.</param>
public sealed record HubFileInfo(string Path, long Size, string? Sha256);

/// <summary>What <c>GET /api/models/{repo}/revision/{revision}</c> returns: the commit and the file list.</summary>
/// <param name="RepoId">The repository.</param>
/// <param name="Commit">The commit the revision points to (40 hex digits).</param>
/// <param name="Files">Every file of that commit.</param>
public sealed record HubRepoInfo(string RepoId, string Commit, IReadOnlyList<HubFileInfo> Files);

/// <summary>The headers of <c>HEAD {endpoint}/{repo}/resolve/{revision}/{path}</c>.</summary>
/// <param name="Commit">From <c>X-Repo-Commit</c>.</param>
/// <param name="ETag">From <c>X-Linked-Etag</c> (LFS: the sha256) or <c>ETag</c> (git blob sha1), quotes and <c>W/</c> removed.</param>
/// <param name="Size">From <c>X-Linked-Size</c> or <c>Content-Length</c>; -1 when absent.</param>
public sealed record HubFileMetadata(string Commit, string ETag, long Size);

/// <summary>
/// The HTTP side of the Hub: repository listing, file metadata and ranged transfers. Redirects are followed by hand
/// so that the metadata of the first response (<c>X-Repo-Commit</c>, <c>X-Linked-Etag</c>) is kept and the token is
/// never sent to another host (the CDN a resolve URL redirects to). HTTP failures become
/// <see cref="EmbeddingGemmaException"/>: 401/403 -> <see cref="ErrorKind.Unauthorized"/>, 404 ->
/// <see cref="ErrorKind.NotFound"/>, connection failures, timeouts and 5xx -> <see cref="ErrorKind.Network"/>.
/// </summary>
public sealed class HubClient : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient http;
    private readonly HubOptions options;

    /// <summary>A client for <paramref name="options"/> (default: <see cref="HubOptions.FromEnvironment()"/>).</summary>
    public HubClient(HubOptions? options = null)
    {
        this.options = options ?? HubOptions.FromEnvironment();
        var handler = this.options.Handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        http = new HttpClient(handler, disposeHandler: this.options.Handler is null) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(this.options.UserAgent);
        // like huggingface_hub: the ETag and size must describe the stored bytes, not a compressed variant
        http.DefaultRequestHeaders.AcceptEncoding.ParseAdd("identity");
    }

    /// <summary>The options in use.</summary>
    public HubOptions Options => options;

    /// <summary>The resolve URL of a file at a revision.</summary>
    public Uri ResolveUri(string repoId, string revision, string path) =>
        new($"{options.Endpoint.TrimEnd('/')}/{repoId}/resolve/{Uri.EscapeDataString(revision)}/{EscapePath(path)}");

    /// <summary>Lists a repository at a revision (<c>GET /api/models/{repo}/revision/{rev}?blobs=true</c>).</summary>
    public async Task<HubRepoInfo> GetRepoInfoAsync(string repoId, string revision, CancellationToken cancellationToken = default)
    {
        var uri = new Uri($"{options.Endpoint.TrimEnd('/')}/api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        using var response = await SendAsync(HttpMethod.Get, uri, rangeStart: 0, followRedirects: true, repoId, revision, path: null, cancellationToken).ConfigureAwait(false);
        string json;
        try
        {
            json = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsNetworkFailure(e, cancellationToken))
        {
            throw NetworkError(uri, e);
        }
        return ParseRepoInfo(repoId, revision, uri, json);
    }

    /// <summary>The commit, ETag and size of one file (HEAD on the resolve URL; only same-host redirects are followed).</summary>
    public async Task<HubFileMetadata> GetFileMetadataAsync(string repoId, string revision, string path, CancellationToken cancellationToken = default)
    {
        var uri = ResolveUri(repoId, revision, path);
        using var response = await SendAsync(HttpMethod.Head, uri, rangeStart: 0, followRedirects: false, repoId, revision, path, cancellationToken).ConfigureAwait(false);
        var h = response.Headers;
        var commit = FirstHeader(h, "X-Repo-Commit");
        var etag = NormalizeETag(FirstHeader(h, "X-Linked-Etag") ?? FirstHeader(h, "ETag") ?? response.Headers.ETag?.Tag);
        var sizeText = FirstHeader(h, "X-Linked-Size");
        long size = sizeText is not null && long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s
            : response.Content.Headers.ContentLength ?? -1;
        if (commit is null || !HubCache.IsCommitHash(commit))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{uri}: the server sent no valid X-Repo-Commit header (got '{commit ?? "none"}'); is HF_ENDPOINT ({options.Endpoint}) a Hugging Face Hub?");
        }
        if (string.IsNullOrEmpty(etag))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{uri}: the server sent neither X-Linked-Etag nor ETag; cannot name the cached file.");
        }
        return new HubFileMetadata(commit, etag, size);
    }

    /// <summary>
    /// Starts a GET of a resolve URL from byte <paramref name="rangeStart"/> (an HTTP Range request when above zero),
    /// following redirects. The caller reads and disposes the response; 206 means the range was honoured.
    /// </summary>
    public Task<HttpResponseMessage> GetContentAsync(string repoId, string revision, string path, long rangeStart, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, ResolveUri(repoId, revision, path), rangeStart, followRedirects: true, repoId, revision, path, cancellationToken);

    /// <inheritdoc/>
    public void Dispose() => http.Dispose();

    internal static string? NormalizeETag(string? etag)
    {
        if (etag is null)
        {
            return null;
        }
        var e = etag.Trim();
        if (e.StartsWith("W/", StringComparison.Ordinal))
        {
            e = e[2..];
        }
        return e.Trim('"');
    }

    internal static bool IsNetworkFailure(Exception e, CancellationToken cancellationToken) =>
        e is HttpRequestException or IOException or HttpIOException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    internal static EmbeddingGemmaException NetworkError(Uri uri, Exception e) =>
        new(ErrorKind.Network, $"Network failure talking to {uri.GetLeftPart(UriPartial.Path)}: {(e is OperationCanceledException ? "timed out" : e.Message)}", e);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, long rangeStart, bool followRedirects,
        string repoId, string revision, string? path, CancellationToken cancellationToken)
    {
        var origin = new Uri(options.Endpoint);
        var current = uri;
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, current);
            // The token goes only to the Hub itself, never to the CDN a resolve URL redirects to.
            if (options.Token is not null && Uri.Compare(current, origin, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
            }
            if (rangeStart > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            }
            HttpResponseMessage response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(options.ReadTimeout);
                try
                {
                    response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (IsNetworkFailure(e, cancellationToken))
                {
                    throw NetworkError(current, e);
                }
            }
            var code = (int)response.StatusCode;
            if (code is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                var next = location.IsAbsoluteUri ? location : new Uri(current, location);
                // HEAD follows only relative redirects (a renamed repository), like huggingface_hub: an absolute one
                // points at the CDN, and the metadata headers are on this response.
                if ((followRedirects || !location.IsAbsoluteUri) && hop < MaxRedirects)
                {
                    response.Dispose();
                    current = next;
                    continue;
                }
                if (!followRedirects)
                {
                    return response; // HEAD: the redirect to the CDN carries the metadata
                }
                response.Dispose();
                throw new EmbeddingGemmaException(ErrorKind.Network, $"{uri}: more than {MaxRedirects} redirects.");
            }
            if (response.IsSuccessStatusCode || (rangeStart > 0 && code == 416))
            {
                return response;
            }
            using (response)
            {
                throw await HttpErrorAsync(response, current, repoId, revision, path).ConfigureAwait(false);
            }
        }
    }

    private async Task<EmbeddingGemmaException> HttpErrorAsync(HttpResponseMessage response, Uri uri, string repoId, string revision, string? path)
    {
        var code = (int)response.StatusCode;
        var errorCode = FirstHeader(response.Headers, "X-Error-Code");
        var serverMessage = FirstHeader(response.Headers, "X-Error-Message");
        if (serverMessage is null && response.RequestMessage?.Method != HttpMethod.Head)
        {
            try
            {
                var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                serverMessage = body.Length > 300 ? body[..300] : body;
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
            }
        }
        var detail = $"HTTP {code}{(errorCode is null ? "" : " " + errorCode)}{(string.IsNullOrWhiteSpace(serverMessage) ? "" : ": " + serverMessage.Trim())}";
        var what = path is null ? $"{repoId}@{revision}" : $"{path} in {repoId}@{revision}";
        var tokenState = options.Token is null
            ? "No token was sent: set HF_TOKEN (or pass --token), or store one in $HF_HOME/token."
            : "A token was sent; check that it is valid and has read access.";
        var licence = $"If the model is gated (google/embeddinggemma-300m is), sign in at {options.Endpoint}/{repoId}, accept its licence, create a read token at {options.Endpoint}/settings/tokens and set HF_TOKEN.";
        if (errorCode == "RepoNotFound" || (code == 404 && path is null && errorCode is null))
        {
            return new EmbeddingGemmaException(code is 401 or 403 && options.Token is null ? ErrorKind.Unauthorized : ErrorKind.NotFound,
                $"Repository {repoId} was not found at {options.Endpoint} ({detail}). Check the id; a private or gated repository also looks missing without a token. {tokenState}");
        }
        return code switch
        {
            401 or 403 => new EmbeddingGemmaException(ErrorKind.Unauthorized, $"Access to {what} was denied ({detail}). {licence} {tokenState}"),
            404 when errorCode == "RevisionNotFound" => new EmbeddingGemmaException(ErrorKind.NotFound, $"Revision '{revision}' of {repoId} was not found ({detail})."),
            404 => new EmbeddingGemmaException(ErrorKind.NotFound, $"{what} was not found at {uri.GetLeftPart(UriPartial.Path)} ({detail})."),
            429 => new EmbeddingGemmaException(ErrorKind.Network, $"The Hub rate-limited the request for {what} ({detail}); retry later."),
            _ => new EmbeddingGemmaException(ErrorKind.Network, $"Request for {what} failed at {uri.GetLeftPart(UriPartial.Path)} ({detail})."),
        };
    }

    private static HubRepoInfo ParseRepoInfo(string repoId, string revision, Uri uri, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var sha = root.TryGetProperty("sha", out var shaEl) && shaEl.ValueKind == JsonValueKind.String ? shaEl.GetString() : null;
            if (sha is null || !HubCache.IsCommitHash(sha))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{uri}: the listing has no valid 'sha' (commit) field.");
            }
            var files = new List<HubFileInfo>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var s in siblings.EnumerateArray())
                {
                    var name = s.TryGetProperty("rfilename", out var n) ? n.GetString() : null;
                    if (string.IsNullOrEmpty(name))
                    {
                        continue;
                    }
                    long size = s.TryGetProperty("size", out var sz) && sz.ValueKind == JsonValueKind.Number ? sz.GetInt64() : -1;
                    string? sha256 = null;
                    if (s.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                    {
                        sha256 = lfs.TryGetProperty("sha256", out var h) ? h.GetString()?.ToLowerInvariant() : null;
                        if (size < 0 && lfs.TryGetProperty("size", out var ls) && ls.ValueKind == JsonValueKind.Number)
                        {
                            size = ls.GetInt64();
                        }
                    }
                    files.Add(new HubFileInfo(name, size, sha256));
                }
            }
            return new HubRepoInfo(repoId, sha, files);
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{uri}: the listing of {repoId}@{revision} is not valid JSON ({e.Message}).", e);
        }
    }

    private static string? FirstHeader(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));
}
