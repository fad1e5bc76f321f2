using System.Text;
using System.Text.RegularExpressions;

namespace EmbeddingGemma.Hub;

/// <summary>
/// Shell-style file patterns with Python <c>fnmatch</c> semantics, as huggingface_hub's <c>allow_patterns</c>:
/// <c>*</c> matches any run of characters including '/', <c>?</c> one character, <c>[abc]</c> / <c>[!abc]</c> a set;
/// a pattern ending with '/' matches everything below that folder. Matching is case-sensitive.
/// </summary>
public static class FilePattern
{
    /// <summary>True when <paramref name="path"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(string path, string pattern)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.EndsWith('/'))
        {
            pattern += "*";
        }
        return Regex.IsMatch(path, ToRegex(pattern), RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// True when <paramref name="path"/> matches one of <paramref name="include"/> (or <paramref name="include"/> is
    /// null or empty) and none of <paramref name="exclude"/>.
    /// </summary>
    public static bool IsSelected(string path, IReadOnlyCollection<string>? include, IReadOnlyCollection<string>? exclude) =>
        (include is null || include.Count == 0 || include.Any(p => IsMatch(path, p)))
        && (exclude is null || !exclude.Any(p => IsMatch(path, p)));

    private static string ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    sb.Append(".*");
                    break;
                case '?':
                    sb.Append('.');
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 2 <= pattern.Length ? i + 2 : i + 1);
                    if (close < 0)
                    {
                        sb.Append(@"\[");
                        break;
                    }
                    var set = pattern[(i + 1)..close];
                    sb.Append('[');
                    if (set.StartsWith('!'))
                    {
                        sb.Append('^');
                        set = set[1..];
                    }
                    sb.Append(set.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal));
                    sb.Append(']');
                    i = close;
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return sb.Append('$').ToString();
    }
}
