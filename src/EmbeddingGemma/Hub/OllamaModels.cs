using System.Text.Json;

namespace EmbeddingGemma.Hub;

/// <summary>
/// Finds the GGUF file of a model pulled with Ollama, without Ollama running. Ollama stores a manifest per model at
/// <c>{models}/manifests/{host}/{namespace}/{name}/{tag}</c> (host <c>registry.ollama.ai</c>, namespace <c>library</c>
/// and tag <c>latest</c> by default; <c>hf.co/org/repo:tag</c> for Hugging Face pulls); the layer with media type
/// <c>application/vnd.ollama.image.model</c> names the weights blob <c>{models}/blobs/sha256-{hex}</c>.
/// The models folder is <c>$OLLAMA_MODELS</c>, else <c>~/.ollama/models</c>.
/// </summary>
public static class OllamaModels
{
    /// <summary>The media type of the weights layer.</summary>
    public const string ModelMediaType = "application/vnd.ollama.image.model";

    /// <summary>The models folder: <c>$OLLAMA_MODELS</c>, else <c>~/.ollama/models</c>.</summary>
    public static string DefaultModelsDirectory(Func<string, string?>? getEnvironmentVariable = null)
    {
        var env = (getEnvironmentVariable ?? Environment.GetEnvironmentVariable)("OLLAMA_MODELS");
        return string.IsNullOrWhiteSpace(env)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ollama", "models")
            : env.Trim();
    }

    /// <summary>
    /// The manifest path of an Ollama name: <c>name</c>, <c>name:tag</c>, <c>namespace/name:tag</c> or
    /// <c>host/namespace/name:tag</c>; null when the name cannot be an Ollama name.
    /// </summary>
    public static string? ManifestPath(string name, string modelsDirectory)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(modelsDirectory);
        var s = name.Trim();
        var tag = "latest";
        var lastSlash = s.LastIndexOf('/');
        var colon = s.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = s[(colon + 1)..];
            s = s[..colon];
        }
        var parts = s.Split('/');
        string[] full = parts.Length switch
        {
            1 => ["registry.ollama.ai", "library", parts[0]],
            2 => ["registry.ollama.ai", parts[0], parts[1]],
            3 => parts,
            _ => [],
        };
        if (full.Length == 0 || tag.Length == 0 || full.Any(p => p.Length == 0 || p is "." or ".." || p.Contains('\\', StringComparison.Ordinal))
            || tag is "." or ".." || tag.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }
        return Path.Combine([modelsDirectory, "manifests", .. full, tag]);
    }

    /// <summary>
    /// The weights blob of an Ollama model, or null when no manifest exists for the name. A manifest without a model
    /// layer, or whose blob is missing or of the wrong size, is an <see cref="EmbeddingGemmaException"/>.
    /// </summary>
    public static string? TryResolve(string name, string? modelsDirectory = null)
    {
        modelsDirectory ??= DefaultModelsDirectory();
        var manifest = ManifestPath(name, modelsDirectory);
        if (manifest is null || !File.Exists(manifest))
        {
            return null;
        }
        string? digest = null;
        long size = -1;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            if (doc.RootElement.TryGetProperty("layers", out var layers) && layers.ValueKind == JsonValueKind.Array)
            {
                foreach (var layer in layers.EnumerateArray())
                {
                    if (layer.TryGetProperty("mediaType", out var mt) && mt.GetString() == ModelMediaType)
                    {
                        digest = layer.TryGetProperty("digest", out var d) ? d.GetString() : null;
                        size = layer.TryGetProperty("size", out var sz) && sz.ValueKind == JsonValueKind.Number ? sz.GetInt64() : -1;
                        break;
                    }
                }
            }
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Ollama manifest {manifest} is not valid JSON: {e.Message}", e) { FilePath = manifest };
        }
        if (digest is null || !digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 7 + 64
            || !digest[7..].All(char.IsAsciiHexDigit))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"Ollama manifest {manifest} has no layer of media type {ModelMediaType} with a sha256 digest.") { FilePath = manifest };
        }
        var blob = Path.Combine(modelsDirectory, "blobs", "sha256-" + digest[7..]);
        if (!File.Exists(blob))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound,
                $"Ollama model {name}: the manifest {manifest} names blob {blob}, which is missing; run `ollama pull {name}` again.") { FilePath = blob };
        }
        if (size >= 0 && new FileInfo(blob).Length != size)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"Ollama model {name}: blob {blob} has {new FileInfo(blob).Length} bytes, the manifest says {size}.") { FilePath = blob };
        }
        return blob;
    }
}
