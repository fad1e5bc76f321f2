using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace EmbeddingGemma.Hub;

/// <summary>The outcome of a download: where the snapshot is and what it holds.</summary>
/// <param name="RepoId">The repository.</param>
/// <param name="Revision">The revision asked for (branch, tag or commit).</param>
/// <param name="Commit">The commit it resolved to.</param>
/// <param name="SnapshotPath">The local folder <c>snapshots/{commit}</c>.</param>
/// <param name="Files">The selected files, relative to the snapshot, '/' separated.</param>
/// <param name="BytesTransferred">Bytes received over the network by this call (0 when all came from the cache).</param>
public sealed record HubDownloadResult(string RepoId, string Revision, string Commit, string SnapshotPath, IReadOnlyList<string> Files, long BytesTransferred)
{
    /// <summary>The local path of one file of the snapshot.</summary>
    public string PathOf(string file) => Path.Combine(SnapshotPath, file.Replace('/', Path.DirectorySeparatorChar));
}

/// <summary>
/// Downloads Hugging Face repositories (whole snapshots or single files) into the huggingface_hub cache layout
/// (<see cref="HubCache"/>): resumable (<c>.incomplete</c> files continued with HTTP Range, also retried within a
/// call), checksummed (sha256 for LFS files, git blob sha1 for the others, both from the ETag headers), locked
/// across processes, with progress and cancellation. <see cref="HubOptions.Offline"/> answers from the cache only.
/// </summary>
public sealed partial class HubDownloader : IDisposable
{
    private readonly HubClient client;

    /// <summary>A downloader for <paramref name="options"/> (default: <see cref="HubOptions.FromEnvironment()"/>).</summary>
    public HubDownloader(HubOptions? options = null)
    {
        Options = options ?? HubOptions.FromEnvironment();
        client = new HubClient(Options);
        Cache = new HubCache(Options.CacheDirectory);
    }

    /// <summary>The options in use.</summary>
    public HubOptions Options { get; }

    /// <summary>The cache written to.</summary>
    public HubCache Cache { get; }

    /// <summary>The HTTP client (listing, metadata).</summary>
    public HubClient Client => client;

    /// <summary>
    /// Files a model snapshot never needs and that can be large: other frameworks' weights and exports.
    /// Used by <see cref="ModelLocator"/>; a snapshot download applies only the patterns it is given.
    /// </summary>
    public static IReadOnlyList<string> NonModelPatterns { get; } =
        ["*.onnx", "*.onnx_data", "onnx/*", "openvino/*", "*.bin", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.ot", "*.tflite", "*.mlmodel", "*.mlpackage/*", "*.gguf"];

    /// <summary>
    /// Downloads the files of <paramref name="repoId"/> at <paramref name="revision"/> (default <c>main</c>) selected
    /// by <paramref name="include"/> / <paramref name="exclude"/> (see <see cref="FilePattern"/>), skipping those
    /// already cached, and records <c>refs/{revision}</c>. Offline, or when the Hub cannot be reached and the revision
    /// is cached, answers from the cache.
    /// </summary>
    public async Task<HubDownloadResult> DownloadSnapshotAsync(string repoId, string? revision = null,
        IReadOnlyCollection<string>? include = null, IReadOnlyCollection<string>? exclude = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repoId);
        revision ??= HubModelId.DefaultRevision;
        if (Options.Offline)
        {
            return FromCache(repoId, revision, include, exclude, "HF_HUB_OFFLINE is set");
        }
        HubRepoInfo info;
        try
        {
            info = await client.GetRepoInfoAsync(repoId, revision, cancellationToken).ConfigureAwait(false);
        }
        catch (EmbeddingGemmaException e) when (e.Kind == ErrorKind.Network && Cache.TryGetCommit(repoId, revision) is not null)
        {
            return FromCache(repoId, revision, include, exclude, "the Hub could not be reached: " + e.Message);
        }
        return await DownloadSnapshotAsync(info, revision, include, exclude, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads the selected files of an already fetched listing (saves one request).</summary>
    public async Task<HubDownloadResult> DownloadSnapshotAsync(HubRepoInfo info, string revision,
        IReadOnlyCollection<string>? include = null, IReadOnlyCollection<string>? exclude = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        var selected = info.Files.Where(f => FilePattern.IsSelected(f.Path, include, exclude)).ToList();
        if (selected.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound,
                $"No file of {info.RepoId}@{revision} matches include [{string.Join(", ", include ?? [])}] / exclude [{string.Join(", ", exclude ?? [])}]. " +
                $"Files: {string.Join(", ", info.Files.Select(f => f.Path))}.");
        }
        long transferred = 0;
        for (var i = 0; i < selected.Count; i++)
        {
            var counter = new FileCounter(info.RepoId, i, selected.Count);
            transferred += await FetchFileAsync(info.RepoId, info.Commit, selected[i].Path, selected[i], info.Commit, counter, progress, cancellationToken).ConfigureAwait(false);
        }
        Cache.WriteRef(info.RepoId, revision, info.Commit);
        return new HubDownloadResult(info.RepoId, revision, info.Commit, Cache.SnapshotPath(info.RepoId, info.Commit),
            selected.Select(f => f.Path).ToList(), transferred);
    }

    /// <summary>
    /// Downloads one file (e.g. a <c>.gguf</c>) and returns its local path in the snapshot. A file already cached
    /// for a commit hash is returned without a request; offline, or when the Hub cannot be reached, the cache answers.
    /// </summary>
    public async Task<HubDownloadResult> DownloadFileAsync(string repoId, string path, string? revision = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repoId);
        ValidateRelativePath(repoId, path);
        revision ??= HubModelId.DefaultRevision;
        var cachedCommit = Cache.TryGetCommit(repoId, revision);
        if (Options.Offline || (HubCache.IsCommitHash(revision) && cachedCommit is not null && File.Exists(Path.Combine(Cache.SnapshotPath(repoId, revision), path))))
        {
            return FromCache(repoId, revision, [path], null, "HF_HUB_OFFLINE is set");
        }
        try
        {
            var counter = new FileCounter(repoId, 0, 1);
            var (transferred, commit) = await FetchFileWithCommitAsync(repoId, revision, path, null, null, counter, progress, cancellationToken).ConfigureAwait(false);
            Cache.WriteRef(repoId, revision, commit);
            return new HubDownloadResult(repoId, revision, commit, Cache.SnapshotPath(repoId, commit), [path], transferred);
        }
        catch (EmbeddingGemmaException e) when (e.Kind == ErrorKind.Network && cachedCommit is not null
            && File.Exists(Path.Combine(Cache.SnapshotPath(repoId, cachedCommit), path)))
        {
            return FromCache(repoId, revision, [path], null, "the Hub could not be reached: " + e.Message);
        }
    }

    /// <summary>The listing of a repository (not available offline).</summary>
    public Task<HubRepoInfo> GetRepoInfoAsync(string repoId, string? revision = null, CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repoId);
        if (Options.Offline)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Cannot list {repoId}: HF_HUB_OFFLINE is set.");
        }
        return client.GetRepoInfoAsync(repoId, revision ?? HubModelId.DefaultRevision, cancellationToken);
    }

    /// <summary>The cached snapshot of a revision, filtered; NotFound (saying why the cache was used) when absent.</summary>
    public HubDownloadResult FromCache(string repoId, string revision, IReadOnlyCollection<string>? include, IReadOnlyCollection<string>? exclude, string reason)
    {
        var commit = Cache.TryGetCommit(repoId, revision)
            ?? throw new EmbeddingGemmaException(ErrorKind.NotFound,
                $"{repoId}@{revision} is not in the cache {Cache.Root} ({reason}). Download it once with network access " +
                $"(embeddinggemma download {repoId}), point HF_HUB_CACHE/HF_HOME at the cache that has it, or unset HF_HUB_OFFLINE.");
        var files = Cache.ListSnapshotFiles(repoId, commit).Where(f => FilePattern.IsSelected(f, include, exclude)).ToList();
        if (files.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound,
                $"The cached snapshot {Cache.SnapshotPath(repoId, commit)} of {repoId}@{revision} has no file matching [{string.Join(", ", include ?? [])}] ({reason}).");
        }
        return new HubDownloadResult(repoId, revision, commit, Cache.SnapshotPath(repoId, commit), files, 0);
    }

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();

    private readonly record struct FileCounter(string RepoId, int Completed, int Count);

    private async Task<long> FetchFileAsync(string repoId, string revision, string path, HubFileInfo? listed, string? knownCommit,
        FileCounter counter, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken) =>
        (await FetchFileWithCommitAsync(repoId, revision, path, listed, knownCommit, counter, progress, cancellationToken).ConfigureAwait(false)).Transferred;

    private async Task<(long Transferred, string Commit)> FetchFileWithCommitAsync(string repoId, string revision, string path, HubFileInfo? listed,
        string? knownCommit, FileCounter counter, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        ValidateRelativePath(repoId, path);
        cancellationToken.ThrowIfCancellationRequested();
        if (knownCommit is not null)
        {
            var existing = new FileInfo(Path.Combine(Cache.SnapshotPath(repoId, knownCommit), path));
            if (existing.Exists && (listed is null || listed.Size < 0 || ResolvedLength(existing) == listed.Size))
            {
                Report(progress, counter, path, ResolvedLength(existing), ResolvedLength(existing), completed: true, fromCache: true);
                return (0, knownCommit);
            }
        }
        var meta = await client.GetFileMetadataAsync(repoId, revision, path, cancellationToken).ConfigureAwait(false);
        if (!SafeETagRegex().IsMatch(meta.ETag))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path} in {repoId}: the ETag '{meta.ETag}' cannot name a cache file.");
        }
        var blob = Cache.BlobPath(repoId, meta.ETag);
        long transferred = 0;
        if (!File.Exists(blob))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            using (await AcquireLockAsync(Cache.LockPath(repoId, meta.ETag), cancellationToken).ConfigureAwait(false))
            {
                if (!File.Exists(blob))
                {
                    transferred = await DownloadBlobAsync(repoId, meta.Commit, path, meta, listed?.Sha256, blob, counter, progress, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        Cache.LinkIntoSnapshot(repoId, meta.Commit, path, blob, Options.UseSymlinks);
        var size = new FileInfo(blob).Length;
        Report(progress, counter, path, size, size, completed: true, fromCache: transferred == 0);
        return (transferred, meta.Commit);
    }

    private async Task<long> DownloadBlobAsync(string repoId, string commit, string path, HubFileMetadata meta, string? listedSha256,
        string blob, FileCounter counter, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var incomplete = blob + ".incomplete";
        long transferred = 0;
        for (var attempt = 0; ; attempt++)
        {
            var have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            if (meta.Size >= 0 && have > meta.Size)
            {
                File.Delete(incomplete);
                have = 0;
            }
            try
            {
                if (meta.Size < 0 || have < meta.Size)
                {
                    transferred += await TransferAsync(repoId, commit, path, meta.Size, incomplete, have, counter, progress, cancellationToken).ConfigureAwait(false);
                }
                break;
            }
            catch (EmbeddingGemmaException e) when (e.Kind == ErrorKind.Network && attempt < Options.MaxRetries && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 * (1 << Math.Min(attempt, 5))), cancellationToken).ConfigureAwait(false);
            }
        }
        await VerifyAsync(repoId, commit, path, meta, listedSha256, incomplete, cancellationToken).ConfigureAwait(false);
        File.Move(incomplete, blob, overwrite: true);
        return transferred;
    }

    private async Task<long> TransferAsync(string repoId, string commit, string path, long size, string incomplete, long have,
        FileCounter counter, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        using var response = await client.GetContentAsync(repoId, commit, path, have, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            File.Delete(incomplete); // our partial file does not fit the remote one: start over
            throw new EmbeddingGemmaException(ErrorKind.Network, $"{path} in {repoId}: the server refused to resume at byte {have}; restarting.");
        }
        var append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
        if (append && response.Content.Headers.ContentRange?.From is { } from && from != have)
        {
            File.Delete(incomplete);
            throw new EmbeddingGemmaException(ErrorKind.Network, $"{path} in {repoId}: asked to resume at byte {have}, the server answered from byte {from}; restarting.");
        }
        var position = append ? have : 0; // a 200 answer to a Range request restarts the file
        long received = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        var sinceReport = Stopwatch.StartNew();
        try
        {
            await using var file = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                while (true)
                {
                    int n;
                    using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                    {
                        timeout.CancelAfter(Options.ReadTimeout);
                        n = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                    }
                    if (n == 0)
                    {
                        break;
                    }
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    position += n;
                    received += n;
                    if (sinceReport.ElapsedMilliseconds >= 100)
                    {
                        Report(progress, counter, path, position, size, completed: false, fromCache: false);
                        sinceReport.Restart();
                    }
                }
            }
            catch (Exception e) when (HubClient.IsNetworkFailure(e, cancellationToken))
            {
                throw new EmbeddingGemmaException(ErrorKind.Network,
                    $"Transfer of {path} from {repoId} broke after {position} bytes{(size >= 0 ? " of " + size.ToString(CultureInfo.InvariantCulture) : "")} " +
                    $"({(e is OperationCanceledException ? "no data for " + Options.ReadTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s" : e.Message)}); " +
                    $"the partial file {incomplete} is kept and the next download resumes from it.", e);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (size >= 0 && position < size)
        {
            throw new EmbeddingGemmaException(ErrorKind.Network, $"Transfer of {path} from {repoId} ended after {position} of {size} bytes; the partial file is kept for resuming.");
        }
        Report(progress, counter, path, position, size, completed: false, fromCache: false);
        return received;
    }

    private static async Task VerifyAsync(string repoId, string commit, string path, HubFileMetadata meta, string? listedSha256, string file, CancellationToken cancellationToken)
    {
        var length = new FileInfo(file).Length;
        string? problem = null;
        if (meta.Size >= 0 && length != meta.Size)
        {
            problem = $"size {length} bytes, expected {meta.Size}";
        }
        else if (Sha256Regex().IsMatch(meta.ETag) || listedSha256 is not null)
        {
            var expected = Sha256Regex().IsMatch(meta.ETag) ? meta.ETag.ToLowerInvariant() : listedSha256!;
            var actual = await HashFileAsync(file, gitBlob: false, cancellationToken).ConfigureAwait(false);
            if (actual != expected || (listedSha256 is not null && actual != listedSha256))
            {
                problem = $"sha256 {actual}, expected {expected} (from the Hub's X-Linked-Etag{(listedSha256 is null ? "" : " and listing")})";
            }
        }
        else if (GitSha1Regex().IsMatch(meta.ETag))
        {
            var actual = await HashFileAsync(file, gitBlob: true, cancellationToken).ConfigureAwait(false);
            if (actual != meta.ETag.ToLowerInvariant())
            {
                problem = $"git blob sha1 {actual}, expected {meta.ETag} (from the Hub's ETag)";
            }
        }
        if (problem is not null)
        {
            File.Delete(file);
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"Checksum mismatch for {path} from {repoId}@{commit}: {problem}. The corrupt download was deleted; nothing was added to the cache. Run the download again.")
            { FilePath = file };
        }
    }

    /// <summary>Lower-case hex sha256 of a file, or its git blob sha1 (<c>sha1("blob {length}\0" + content)</c>).</summary>
    internal static async Task<string> HashFileAsync(string file, bool gitBlob, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        if (!gitBlob)
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length.ToString(CultureInfo.InvariantCulture)}\0"));
        var buffer = new byte[1 << 16];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            sha1.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    private static async Task<FileStream> AcquireLockAsync(string lockPath, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false); // another process downloads this blob
            }
        }
    }

    private static long ResolvedLength(FileInfo file) =>
        file.LinkTarget is null ? file.Length : new FileInfo(file.ResolveLinkTarget(returnFinalTarget: true)!.FullName).Length;

    private static void Report(IProgress<DownloadProgress>? progress, FileCounter counter, string path, long bytes, long total, bool completed, bool fromCache) =>
        progress?.Report(new DownloadProgress(counter.RepoId, path, bytes, total, counter.Completed + (completed ? 1 : 0), counter.Count, completed, fromCache));

    private static void ValidateRepoId(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        if (!HubModelId.IsValidRepoId(repoId))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"'{repoId}' is not a Hugging Face repository id (expected org/name, e.g. google/embeddinggemma-300m).");
        }
    }

    private static void ValidateRelativePath(string repoId, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = path.Split('/');
        if (path.Length == 0 || path.StartsWith('/') || path.Contains('\\', StringComparison.Ordinal) || path.Contains(':', StringComparison.Ordinal)
            || parts.Any(p => p is "" or "." or ".."))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Refusing the file path '{path}' of {repoId}: it must be relative, '/' separated, without '.' or '..' segments.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,128}$")]
    private static partial Regex SafeETagRegex();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Regex();

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial Regex GitSha1Regex();
}
