using System.Globalization;
using System.Text;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// The tokenizer of the lexical baselines: Unicode-normalised (NFKC), lower-cased runs of letters and digits; CJK
/// ideographs, kana and hangul (no spaces between words) become character unigrams and bigrams. With English
/// analysis on, the word tokens are filtered by Lucene's English stop-word list and stemmed with Porter's algorithm,
/// close to the Elasticsearch "english" analyzer BEIR's BM25 used (minus its possessive filter, which the split on '
/// covers).
/// </summary>
public sealed class LexicalTokenizer
{
    /// <summary>Lucene's EnglishAnalyzer default stop words (33 words).</summary>
    public static readonly IReadOnlySet<string> EnglishStopWords = new HashSet<string>(StringComparer.Ordinal)
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
        "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    };

    public LexicalTokenizer(bool englishAnalysis = false) => EnglishAnalysis = englishAnalysis;

    /// <summary>Stop words removed and Porter stemming applied to word tokens.</summary>
    public bool EnglishAnalysis { get; }

    public List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var s = text.Normalize(NormalizationForm.FormKC);
        var word = new StringBuilder();
        char prevCjk = '\0';
        void Flush()
        {
            if (word.Length == 0)
            {
                return;
            }
            var w = word.ToString();
            word.Clear();
            if (EnglishAnalysis)
            {
                if (EnglishStopWords.Contains(w))
                {
                    return;
                }
                w = PorterStemmer.Stem(w);
            }
            tokens.Add(w);
        }
        foreach (char raw in s)
        {
            char ch = char.ToLowerInvariant(raw);
            if (IsCjk(ch))
            {
                Flush();
                tokens.Add(ch.ToString());
                if (prevCjk != '\0')
                {
                    tokens.Add(string.Concat(prevCjk, ch));
                }
                prevCjk = ch;
                continue;
            }
            prevCjk = '\0';
            var cat = CharUnicodeInfo.GetUnicodeCategory(ch);
            bool wordChar = char.IsLetterOrDigit(ch) || cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            if (wordChar)
            {
                word.Append(ch);
            }
            else
            {
                Flush();
            }
        }
        Flush();
        return tokens;
    }

    internal static bool IsCjk(char c) =>
        c is >= '\u3040' and <= '\u30FF'   // hiragana, katakana
        or >= '\u3400' and <= '\u4DBF'     // CJK extension A
        or >= '\u4E00' and <= '\u9FFF'     // CJK unified ideographs
        or >= '\uAC00' and <= '\uD7AF'     // hangul syllables
        or >= '\uF900' and <= '\uFAFF';    // CJK compatibility ideographs
}
