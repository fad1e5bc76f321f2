namespace EmbeddingGemma.Hub;

/// <summary>Where a model argument was found.</summary>
public enum ModelSource
{
    /// <summary>A local folder (a Hugging Face / sentence-transformers model folder).</summary>
    Folder,
    /// <summary>A local file (normally a <c>.gguf</c>).</summary>
    File,
    /// <summary>A model pulled with Ollama: the path is its GGUF blob.</summary>
    Ollama,
    /// <summary>A Hugging Face repository, from the cache or downloaded into it.</summary>
    Hub,
}

/// <summary>A model argument turned into a local path.</summary>
/// <param name="Path">A folder (sentence-transformers snapshot) or a file (GGUF).</param>
/// <param name="Source">How it was found.</param>
/// <param name="RepoId">For <see cref="ModelSource.Hub"/>: the repository.</param>
/// <param name="Commit">For <see cref="ModelSource.Hub"/>: the commit of the snapshot.</param>
public sealed record ResolvedModel(string Path, ModelSource Source, string? RepoId = null, string? Commit = null);

/// <summary>
/// Turns what a user types after <c>--model</c> (or passes to <c>EmbeddingGemmaModel.Load</c>) into a local path.
/// Rules, in order:
/// <list type="number">
/// <item><c>ollama:NAME[:TAG]</c>: an Ollama model only (see <see cref="OllamaModels"/>).</item>
/// <item>An existing folder or file: used as it is.</item>
/// <item>Something that looks like a path (absolute, starting with <c>.</c> or <c>~</c>, or ending in <c>.gguf</c>) but
/// does not exist: NotFound.</item>
/// <item><c>hf.co/org/repo[:TAG]</c> pulled by Ollama: its blob; otherwise treated as a Hub id.</item>
/// <item><c>org/name[@revision][:FILE|:TAG]</c> (also with <c>hf://</c>, <c>hf.co/</c>, <c>https://huggingface.co/</c>):
/// the Hugging Face cache, downloading what is missing. Without FILE/TAG a repository with <c>config.json</c> and
/// <c>*.safetensors</c> gives its snapshot folder (weights of other frameworks and GGUF files skipped); a GGUF-only
/// repository gives one GGUF file: the only one, or the first of Q8_0, BF16, F16, F32, Q4_0 present. <c>:TAG</c>
/// (e.g. <c>:Q4_0</c>) picks the GGUF whose name ends in <c>-TAG.gguf</c>; <c>:FILE</c> names a file.</item>
/// <item>A bare name such as <c>embeddinggemma</c> or <c>embeddinggemma:300m</c>: an Ollama model.</item>
/// </list>
/// </summary>
public static class ModelLocator
{
    /// <summary>The GGUF types preferred, in order, when a repository holds several and none was named.</summary>
    public static IReadOnlyList<string> PreferredGgufTags { get; } = ["Q8_0", "BF16", "F16", "F32", "Q4_0"];

    /// <summary>Resolves a model argument to a local path (blocking; downloads when needed).</summary>
    public static string Resolve(string model, HubOptions? hub = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ResolveDetailed(model, hub, progress, cancellationToken).Path;

    /// <summary>Resolves a model argument to a local path, with how it was found (blocking; downloads when needed).</summary>
    public static ResolvedModel ResolveDetailed(string model, HubOptions? hub = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var local = TryResolveLocal(model, hub ?? HubOptions.FromEnvironment(), out var hubId);
        if (local is not null)
        {
            return local;
        }
        // Off the caller's synchronization context, so that blocking here cannot deadlock a UI or legacy ASP.NET thread.
        return Task.Run(() => ResolveHubAsync(hubId!, hub ?? HubOptions.FromEnvironment(), progress, cancellationToken), cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>Resolves a model argument to a local path (downloads when needed).</summary>
    public static async Task<string> ResolveAsync(string model, HubOptions? hub = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        (await ResolveDetailedAsync(model, hub, progress, cancellationToken).ConfigureAwait(false)).Path;

    /// <summary>Resolves a model argument to a local path, with how it was found (downloads when needed).</summary>
    public static Task<ResolvedModel> ResolveDetailedAsync(string model, HubOptions? hub = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        hub ??= HubOptions.FromEnvironment();
        var local = TryResolveLocal(model, hub, out var hubId);
        return local is not null ? Task.FromResult(local) : ResolveHubAsync(hubId!, hub, progress, cancellationToken);
    }

    private static ResolvedModel? TryResolveLocal(string model, HubOptions hub, out HubModelId? hubId)
    {
        hubId = null;
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                "No model given: pass a model folder, a .gguf file, a Hugging Face id (google/embeddinggemma-300m) or an Ollama name (ollama:embeddinggemma).");
        }
        var m = model.Trim();
        if (m.StartsWith("ollama:", StringComparison.OrdinalIgnoreCase))
        {
            var name = m["ollama:".Length..];
            return new ResolvedModel(OllamaModels.TryResolve(name, hub.OllamaModelsDirectory)
                ?? throw OllamaMissing(name, hub, "it was asked for with the ollama: prefix"), ModelSource.Ollama);
        }
        var expanded = m == "~" || m.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), m.Length > 2 ? m[2..] : "")
            : m;
        if (Directory.Exists(expanded))
        {
            return new ResolvedModel(Path.GetFullPath(expanded), ModelSource.Folder);
        }
        if (System.IO.File.Exists(expanded))
        {
            return new ResolvedModel(Path.GetFullPath(expanded), ModelSource.File);
        }
        var isHubForm = HubModelId.HasHubPrefix(m);
        if (!isHubForm && (Path.IsPathRooted(m) || m.StartsWith('.') || m.StartsWith('~') || m.Contains('\\', StringComparison.Ordinal)
            || (m.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !m.Contains(':', StringComparison.Ordinal))))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model not found: no file or folder at {Path.GetFullPath(expanded)}.") { FilePath = Path.GetFullPath(expanded) };
        }
        if (m.StartsWith("hf.co/", StringComparison.OrdinalIgnoreCase) && OllamaModels.TryResolve(m, hub.OllamaModelsDirectory) is { } pulled)
        {
            return new ResolvedModel(pulled, ModelSource.Ollama);
        }
        hubId = HubModelId.TryParse(m);
        if (hubId is not null)
        {
            return null;
        }
        if (!m.Contains('/', StringComparison.Ordinal))
        {
            return new ResolvedModel(OllamaModels.TryResolve(m, hub.OllamaModelsDirectory)
                ?? throw OllamaMissing(m, hub, "it is neither a file nor a folder, and a Hugging Face id has the form org/name"), ModelSource.Ollama);
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
            $"'{m}' is not a model folder, a .gguf file, a Hugging Face id (org/name[@revision][:file]) or an Ollama name (ollama:name[:tag]).");
    }

    private static EmbeddingGemmaException OllamaMissing(string name, HubOptions hub, string why) =>
        new(ErrorKind.NotFound,
            $"Model '{name}' not found: {why}; no Ollama manifest at {OllamaModels.ManifestPath(name, hub.OllamaModelsDirectory) ?? "(not a valid Ollama name)"} " +
            $"(OLLAMA_MODELS={hub.OllamaModelsDirectory}). Pull it with `ollama pull {name}`, or use google/embeddinggemma-300m.");

    private static async Task<ResolvedModel> ResolveHubAsync(HubModelId id, HubOptions hub, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        using var downloader = new HubDownloader(hub);
        var revision = id.Revision ?? HubModelId.DefaultRevision;
        if (id.File is not null && IsFileName(id.File))
        {
            var one = await downloader.DownloadFileAsync(id.RepoId, id.File, revision, progress, cancellationToken).ConfigureAwait(false);
            return new ResolvedModel(one.PathOf(id.File), ModelSource.Hub, id.RepoId, one.Commit);
        }

        IReadOnlyList<string> files;
        HubRepoInfo? info = null;
        if (hub.Offline)
        {
            files = downloader.FromCache(id.RepoId, revision, null, null, "HF_HUB_OFFLINE is set").Files;
        }
        else
        {
            try
            {
                info = await downloader.GetRepoInfoAsync(id.RepoId, revision, cancellationToken).ConfigureAwait(false);
                files = info.Files.Select(f => f.Path).ToList();
            }
            catch (EmbeddingGemmaException e) when (e.Kind == ErrorKind.Network && downloader.Cache.TryGetCommit(id.RepoId, revision) is not null)
            {
                files = downloader.FromCache(id.RepoId, revision, null, null, "the Hub could not be reached: " + e.Message).Files;
            }
        }

        if (id.File is null && files.Contains("config.json") && files.Any(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)))
        {
            var snapshot = info is null
                ? downloader.FromCache(id.RepoId, revision, null, HubDownloader.NonModelPatterns, "HF_HUB_OFFLINE is set or the Hub could not be reached")
                : await downloader.DownloadSnapshotAsync(info, revision, null, HubDownloader.NonModelPatterns, progress, cancellationToken).ConfigureAwait(false);
            return new ResolvedModel(snapshot.SnapshotPath, ModelSource.Hub, id.RepoId, snapshot.Commit);
        }
        var gguf = ChooseGguf(id.RepoId, revision, files, id.File);
        var result = hub.Offline || info is null
            ? downloader.FromCache(id.RepoId, revision, [gguf], null, "HF_HUB_OFFLINE is set or the Hub could not be reached")
            : await downloader.DownloadSnapshotAsync(info, revision, [gguf], null, progress, cancellationToken).ConfigureAwait(false);
        return new ResolvedModel(result.PathOf(gguf), ModelSource.Hub, id.RepoId, result.Commit);
    }

    /// <summary>
    /// The GGUF file of a repository to use: the one whose name ends in <c>-TAG.gguf</c> when <paramref name="tag"/>
    /// is given, else the only one, else the first of <see cref="PreferredGgufTags"/> present (<c>mmproj</c> files
    /// ignored). NotFound / InvalidArgument, listing the GGUF files, when there is no such or no single choice.
    /// </summary>
    public static string ChooseGguf(string repoId, string revision, IReadOnlyCollection<string> files, string? tag)
    {
        ArgumentNullException.ThrowIfNull(files);
        var ggufs = files.Where(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)
            && !Path.GetFileName(f).StartsWith("mmproj", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        if (tag is not null)
        {
            return ggufs.FirstOrDefault(f => HasTag(f, tag))
                ?? throw new EmbeddingGemmaException(ErrorKind.NotFound,
                    $"{repoId}@{revision} has no GGUF file tagged '{tag}' (…-{tag}.gguf). GGUF files: {(ggufs.Count == 0 ? "none" : string.Join(", ", ggufs))}.");
        }
        if (ggufs.Count == 1)
        {
            return ggufs[0];
        }
        return PreferredGgufTags.Select(t => ggufs.FirstOrDefault(f => HasTag(f, t))).FirstOrDefault(f => f is not null)
            ?? throw new EmbeddingGemmaException(ggufs.Count == 0 ? ErrorKind.NotFound : ErrorKind.InvalidArgument, ggufs.Count == 0
                ? $"{repoId}@{revision} holds neither a model (config.json + *.safetensors) nor a .gguf file. Files: {string.Join(", ", files)}."
                : $"{repoId}@{revision} holds several GGUF files; name one as {repoId}:FILE or {repoId}:TAG. GGUF files: {string.Join(", ", ggufs)}.");
    }

    /// <summary>True when a <c>:selector</c> names a file (has a '.' or '/') rather than a quantization tag.</summary>
    public static bool IsFileName(string selector) =>
        selector.Contains('.', StringComparison.Ordinal) || selector.Contains('/', StringComparison.Ordinal);

    private static bool HasTag(string file, string tag)
    {
        var name = Path.GetFileNameWithoutExtension(file);
        return name.Length > tag.Length && name.EndsWith(tag, StringComparison.OrdinalIgnoreCase) && name[^(tag.Length + 1)] is '-' or '.' or '_';
    }
}
