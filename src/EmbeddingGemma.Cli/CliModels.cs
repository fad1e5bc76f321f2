using EmbeddingGemma.Embeddings;

namespace EmbeddingGemma.Cli;

/// <summary>How every command loads a model: hub ids and Ollama names resolve with download progress on stderr, and
/// <c>--threads</c> goes into the model's own options (no process-wide setting).</summary>
internal static class CliModels
{
    /// <summary>Load options for a command's <c>--model</c> with <paramref name="threads"/> compute threads (0: all cores).</summary>
    public static ModelLoadOptions LoadOptions(int threads = 0) => new()
    {
        Threads = threads,
        HubResolver = Commands.DownloadCommand.ResolveModelWithProgress,
    };

    /// <summary>
    /// After a model load: one compacting, decommitting collection, so the temporaries of building the tokenizer and
    /// packing the weights leave the resident set before the work starts (a one-shot process's peak RSS is what a user
    /// sees; measured −23 MB on a Q4_0 GGUF with the 262,144-token vocabulary).
    /// </summary>
    public static void ReleaseLoadGarbage() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}

/// <summary>Options shared by the commands that embed.</summary>
internal static class CliOptions
{
    /// <summary>The most threads <c>--threads</c> accepts (far above any core count the engine can use well).</summary>
    public const int MaxThreads = 1024;

    /// <summary><c>--threads N</c>: compute threads of this command's model (0: all cores); refused outside 0..<see cref="MaxThreads"/>.</summary>
    public static System.CommandLine.Option<int> Threads()
    {
        var o = new System.CommandLine.Option<int>("--threads") { Description = "Compute threads (0: all cores).", DefaultValueFactory = _ => 0 };
        o.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<int>();
            if (v < 0 || v > MaxThreads)
            {
                r.AddError($"--threads must be between 0 (all cores) and {MaxThreads}, got {v}.");
            }
        });
        return o;
    }
}
