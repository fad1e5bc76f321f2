using System.Text.RegularExpressions;

namespace EmbeddingGemma.Hub;

/// <summary>
/// A Hugging Face model reference: <c>org/name</c>, optionally <c>@revision</c> and <c>:file</c> (a file name such as
/// <c>embeddinggemma-300M-Q8_0.gguf</c>, or a quantization tag such as <c>Q8_0</c> picking a GGUF file in the repository).
/// Prefixes <c>hf://</c>, <c>hf.co/</c>, <c>huggingface.co/</c> and <c>https://huggingface.co/</c> are accepted.
/// </summary>
/// <param name="RepoId">The repository, <c>org/name</c>.</param>
/// <param name="Revision">A branch, tag or commit; null means <c>main</c>.</param>
/// <param name="File">A file name or quantization tag; null for the whole model.</param>
public sealed partial record HubModelId(string RepoId, string? Revision, string? File)
{
    /// <summary>The default revision.</summary>
    public const string DefaultRevision = "main";

    private static readonly string[] Prefixes = ["hf://", "https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"];

    /// <summary>Parses a reference; null when <paramref name="text"/> is not of the form <c>org/name[@rev][:file]</c>.</summary>
    public static HubModelId? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = StripPrefix(text.Trim());
        string? file = null;
        var colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            file = s[(colon + 1)..];
            s = s[..colon];
            if (file.Length == 0)
            {
                return null;
            }
        }
        string? revision = null;
        var at = s.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            revision = s[(at + 1)..];
            s = s[..at];
            if (revision.Length == 0)
            {
                return null;
            }
        }
        return RepoIdRegex().IsMatch(s) ? new HubModelId(s, revision, file) : null;
    }

    /// <summary>Whether <paramref name="text"/> starts with a Hub prefix (<c>hf://</c>, <c>hf.co/</c>...).</summary>
    public static bool HasHubPrefix(string text) => Prefixes.Any(p => text.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>True for a valid <c>org/name</c> repository id.</summary>
    public static bool IsValidRepoId(string repoId) => RepoIdRegex().IsMatch(repoId);

    /// <inheritdoc/>
    public override string ToString() =>
        RepoId + (Revision is null ? "" : "@" + Revision) + (File is null ? "" : ":" + File);

    private static string StripPrefix(string s)
    {
        foreach (var p in Prefixes)
        {
            if (s.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            {
                return s[p.Length..];
            }
        }
        return s;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
    private static partial Regex RepoIdRegex();
}
