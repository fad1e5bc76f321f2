using System.CommandLine;
using System.Text.Json;
using EmbeddingGemma.Hub;
using Spectre.Console;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embeddinggemma download &lt;repo-id&gt; [--revision R] [--include PATTERN]... [--exclude PATTERN]... [--file F]
/// [--cache-dir DIR] [--token T] [--endpoint URL] [--json]</c>: downloads a Hugging Face repository (or one file of
/// it) into the Hugging Face cache and prints the local path (the snapshot folder, or the file when one file was
/// asked for). Progress goes to stderr.
/// </summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var repo = new Argument<string>("repo-id")
        {
            Description = "Repository id org/name, optionally @revision and :FILE or :TAG (e.g. ggml-org/embeddinggemma-300M-GGUF:Q8_0).",
        };
        var revision = new Option<string?>("--revision", "-r") { Description = "Branch, tag or commit (default: main, or the @revision of the id)." };
        var include = new Option<string[]>("--include") { Description = "Only files matching this fnmatch pattern (repeatable), e.g. \"*.json\"." };
        var exclude = new Option<string[]>("--exclude") { Description = "Skip files matching this fnmatch pattern (repeatable), e.g. \"onnx/*\"." };
        var file = new Option<string?>("--file", "-f") { Description = "Download only this file (path in the repository); prints its local path." };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)." };
        var token = new Option<string?>("--token") { Description = "Hugging Face access token (default: $HF_TOKEN, $HF_TOKEN_PATH, $HF_HOME/token)." };
        var endpoint = new Option<string?>("--endpoint") { Description = "Hub address (default: $HF_ENDPOINT, else https://huggingface.co)." };
        var json = new Option<bool>("--json") { Description = "Print a JSON object (repo_id, revision, commit, path, snapshot_path, files, bytes_transferred) instead of the path." };

        var command = new Command("download", "Download a Hugging Face model (e.g. google/embeddinggemma-300m, gated: set HF_TOKEN) into the Hugging Face cache and print its local path.");
        command.Arguments.Add(repo);
        foreach (var option in new Option[] { revision, include, exclude, file, cacheDir, token, endpoint, json })
        {
            command.Options.Add(option);
        }
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var text = parse.GetValue(repo)!;
            var id = HubModelId.TryParse(text)
                ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"'{text}' is not a Hugging Face repository id (org/name[@revision][:file]).");
            var options = HubOptions.FromEnvironment();
            options = options with
            {
                CacheDirectory = parse.GetValue(cacheDir) ?? options.CacheDirectory,
                Token = parse.GetValue(token) ?? options.Token,
                Endpoint = parse.GetValue(endpoint)?.TrimEnd('/') ?? options.Endpoint,
            };
            var rev = parse.GetValue(revision) ?? id.Revision ?? HubModelId.DefaultRevision;
            var fileName = parse.GetValue(file) ?? id.File;

            var stderr = StderrConsole();
            var (result, path) = await WithProgressAsync(stderr, progress => DownloadAsync(options, id, rev, fileName,
                parse.GetValue(include), parse.GetValue(exclude), progress, cancellationToken)).ConfigureAwait(false);

            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    repo_id = result.RepoId,
                    revision = result.Revision,
                    commit = result.Commit,
                    path,
                    snapshot_path = result.SnapshotPath,
                    files = result.Files,
                    bytes_transferred = result.BytesTransferred,
                }));
            }
            else
            {
                Console.WriteLine(path);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<(HubDownloadResult Result, string Path)> DownloadAsync(HubOptions options, HubModelId id, string revision, string? fileName,
        string[]? include, string[]? exclude, IProgress<DownloadProgress> progress, CancellationToken cancellationToken)
    {
        using var downloader = new HubDownloader(options);
        if (fileName is null)
        {
            var snapshot = await downloader.DownloadSnapshotAsync(id.RepoId, revision, include, exclude, progress, cancellationToken).ConfigureAwait(false);
            return (snapshot, snapshot.SnapshotPath);
        }
        if (!ModelLocator.IsFileName(fileName))
        {
            // a quantization tag (":Q8_0"): the GGUF file named ...-Q8_0.gguf
            var files = options.Offline
                ? downloader.FromCache(id.RepoId, revision, null, null, "HF_HUB_OFFLINE is set").Files
                : (await downloader.GetRepoInfoAsync(id.RepoId, revision, cancellationToken).ConfigureAwait(false)).Files.Select(f => f.Path).ToList();
            fileName = ModelLocator.ChooseGguf(id.RepoId, revision, files, fileName);
        }
        var one = await downloader.DownloadFileAsync(id.RepoId, fileName, revision, progress, cancellationToken).ConfigureAwait(false);
        return (one, one.PathOf(fileName));
    }

    /// <summary>
    /// Resolves a <c>--model</c> argument with <see cref="ModelLocator"/>, showing download progress on stderr (bars on
    /// a terminal, one line per downloaded file otherwise; nothing for files already cached). The CLI installs this as
    /// the hub resolver of <c>EmbeddingGemmaModel.Load</c>, so every command that loads a model shows its download.
    /// </summary>
    internal static string ResolveModelWithProgress(string model, CancellationToken cancellationToken)
    {
        var console = StderrConsole();
        if (!console.Profile.Capabilities.Interactive)
        {
            return ModelLocator.Resolve(model, null, new LineProgress(console, quietWhenCached: true), cancellationToken);
        }
        var path = "";
        console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(ProgressColumns())
            .Start(ctx => path = ModelLocator.Resolve(model, null, new BarProgress(ctx, skipCached: true), cancellationToken));
        return path;
    }

    private static IAnsiConsole StderrConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    private static ProgressColumn[] ProgressColumns() =>
        [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn()];

    /// <summary>A Spectre.Console progress display on stderr when it is a terminal; one line per file otherwise.</summary>
    private static async Task<T> WithProgressAsync<T>(IAnsiConsole console, Func<IProgress<DownloadProgress>, Task<T>> work)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            return await work(new LineProgress(console)).ConfigureAwait(false);
        }
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(ProgressColumns())
            .StartAsync(async ctx =>
            {
                var bars = new BarProgress(ctx);
                result = await work(bars).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return result;
    }

    private sealed class LineProgress(IAnsiConsole console, bool quietWhenCached = false) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value)
        {
            if (value.FileCompleted && !(quietWhenCached && value.FromCache))
            {
                console.MarkupLine($"[grey]{(value.FromCache ? "cached    " : "downloaded")}[/] {Markup.Escape(value.FileName)} " +
                    $"[grey]({value.FileBytes:N0} bytes, {value.FilesCompleted}/{value.FileCount})[/]");
            }
        }
    }

    private sealed class BarProgress(ProgressContext context, bool skipCached = false) : IProgress<DownloadProgress>
    {
        private readonly Dictionary<string, ProgressTask> tasks = new(StringComparer.Ordinal);
        private readonly Lock gate = new();

        public void Report(DownloadProgress value)
        {
            lock (gate)
            {
                if (skipCached && value.FromCache && !tasks.ContainsKey(value.FileName))
                {
                    return;
                }
                if (!tasks.TryGetValue(value.FileName, out var task))
                {
                    task = context.AddTask(Markup.Escape(value.FileName), autoStart: true, maxValue: Math.Max(1, value.FileTotalBytes));
                    tasks[value.FileName] = task;
                }
                if (value.FileTotalBytes > 0)
                {
                    task.MaxValue = value.FileTotalBytes;
                }
                task.Value = value.FileBytes;
                if (value.FileCompleted)
                {
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            }
        }
    }
}
