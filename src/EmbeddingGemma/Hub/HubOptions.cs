namespace EmbeddingGemma.Hub;

/// <summary>
/// Where and how to reach the Hugging Face Hub and its local cache. <see cref="FromEnvironment()"/> reads the same
/// environment variables as Python's huggingface_hub, so a model downloaded by either is found by the other.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The default Hub endpoint (overridden by <c>HF_ENDPOINT</c>).</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub base address, e.g. https://huggingface.co or a mirror (<c>HF_ENDPOINT</c>).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token sent as <c>Authorization: Bearer</c> (<c>HF_TOKEN</c>, <c>HF_TOKEN_PATH</c>, <c>$HF_HOME/token</c>).</summary>
    public string? Token { get; init; }

    /// <summary>The cache root holding <c>models--org--name</c> folders (<c>HF_HUB_CACHE</c>, default <c>$HF_HOME/hub</c>).</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory(Environment.GetEnvironmentVariable);

    /// <summary>Use only the local cache; never touch the network (<c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool Offline { get; init; }

    /// <summary>How many times a broken transfer is resumed (HTTP Range) within one call before giving up.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>A transfer that receives nothing for this long is treated as a network failure.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Snapshot entries are relative symlinks to blobs (like huggingface_hub); false, or where links fail, copies.</summary>
    public bool UseSymlinks { get; init; } = true;

    /// <summary>Optional HTTP handler (tests, proxies). It must not follow redirects itself; the client does.</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Where <see cref="ModelLocator"/> looks for Ollama models (<c>OLLAMA_MODELS</c>, default <c>~/.ollama/models</c>).</summary>
    public string OllamaModelsDirectory { get; init; } = OllamaModels.DefaultModelsDirectory();

    /// <summary>The User-Agent sent with every request.</summary>
    public string UserAgent { get; init; } = "EmbeddingGemma.NET/" + (typeof(HubOptions).Assembly.GetName().Version?.ToString(3) ?? "0");

    /// <summary>Options from the process environment (see <see cref="FromEnvironment(Func{string, string?})"/>).</summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Options from environment variables, read through <paramref name="getEnvironmentVariable"/>:
    /// <c>HF_ENDPOINT</c>; <c>HF_TOKEN</c> (or legacy <c>HUGGING_FACE_HUB_TOKEN</c>), else the file named by
    /// <c>HF_TOKEN_PATH</c>, else <c>$HF_HOME/token</c>; <c>HF_HUB_CACHE</c> (or legacy <c>HUGGINGFACE_HUB_CACHE</c>),
    /// else <c>$HF_HOME/hub</c> with <c>HF_HOME</c> defaulting to <c>$XDG_CACHE_HOME/huggingface</c> or
    /// <c>~/.cache/huggingface</c>; <c>HF_HUB_OFFLINE</c> (1/true/yes/on); <c>HF_HUB_DOWNLOAD_TIMEOUT</c> (seconds
    /// without data before a transfer counts as broken); <c>OLLAMA_MODELS</c>.
    /// </summary>
    public static HubOptions FromEnvironment(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        string? Env(string name)
        {
            var v = getEnvironmentVariable(name);
            return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        }

        var endpoint = Env("HF_ENDPOINT") ?? DefaultEndpoint;
        var timeout = double.TryParse(Env("HF_HUB_DOWNLOAD_TIMEOUT"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : new HubOptions().ReadTimeout;
        return new HubOptions
        {
            ReadTimeout = timeout,
            Endpoint = endpoint.TrimEnd('/'),
            Token = ReadToken(getEnvironmentVariable),
            CacheDirectory = DefaultCacheDirectory(getEnvironmentVariable),
            Offline = IsTrue(Env("HF_HUB_OFFLINE")),
            OllamaModelsDirectory = OllamaModels.DefaultModelsDirectory(getEnvironmentVariable),
        };
    }

    /// <summary><c>HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>.</summary>
    public static string HomeDirectory(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        var home = getEnvironmentVariable("HF_HOME");
        if (!string.IsNullOrWhiteSpace(home))
        {
            return ExpandHome(home.Trim());
        }
        var xdg = getEnvironmentVariable("XDG_CACHE_HOME");
        var cacheRoot = string.IsNullOrWhiteSpace(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
            : ExpandHome(xdg.Trim());
        return Path.Combine(cacheRoot, "huggingface");
    }

    /// <summary><c>HF_HUB_CACHE</c>, else legacy <c>HUGGINGFACE_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>.</summary>
    public static string DefaultCacheDirectory(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        foreach (var name in new[] { "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE" })
        {
            var v = getEnvironmentVariable(name);
            if (!string.IsNullOrWhiteSpace(v))
            {
                return ExpandHome(v.Trim());
            }
        }
        return Path.Combine(HomeDirectory(getEnvironmentVariable), "hub");
    }

    /// <summary>The token: <c>HF_TOKEN</c>, legacy <c>HUGGING_FACE_HUB_TOKEN</c>, the <c>HF_TOKEN_PATH</c> file, or <c>$HF_HOME/token</c>.</summary>
    public static string? ReadToken(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        foreach (var name in new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" })
        {
            var v = getEnvironmentVariable(name);
            if (!string.IsNullOrWhiteSpace(v))
            {
                return v.Trim();
            }
        }
        var path = getEnvironmentVariable("HF_TOKEN_PATH");
        path = string.IsNullOrWhiteSpace(path) ? Path.Combine(HomeDirectory(getEnvironmentVariable), "token") : ExpandHome(path.Trim());
        try
        {
            if (File.Exists(path))
            {
                var t = File.ReadAllText(path).Trim();
                return t.Length == 0 ? null : t;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    internal static bool IsTrue(string? value) =>
        value is not null && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase)
            || value.Equals("yes", StringComparison.OrdinalIgnoreCase) || value.Equals("on", StringComparison.OrdinalIgnoreCase));

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;
}
