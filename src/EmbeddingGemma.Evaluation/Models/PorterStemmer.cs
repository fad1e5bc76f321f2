namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// Porter's 1980 suffix-stripping algorithm ("An algorithm for suffix stripping", Program 14(3)), steps 1a-5b, written
/// from the paper's rules. Words of one or two letters are returned unchanged; non-ASCII words too.
/// </summary>
public static class PorterStemmer
{
    public static string Stem(string word)
    {
        if (word.Length <= 2 || word.Any(c => c is < 'a' or > 'z'))
        {
            return word;
        }
        var w = word;
        // Step 1a
        if (w.EndsWith("sses", StringComparison.Ordinal)) { w = w[..^2]; }
        else if (w.EndsWith("ies", StringComparison.Ordinal)) { w = w[..^2]; }
        else if (w.EndsWith("ss", StringComparison.Ordinal)) { }
        else if (w.EndsWith('s')) { w = w[..^1]; }
        // Step 1b
        bool extra = false;
        if (w.EndsWith("eed", StringComparison.Ordinal))
        {
            if (Measure(w[..^3]) > 0) { w = w[..^1]; }
        }
        else if (w.EndsWith("ed", StringComparison.Ordinal) && HasVowel(w[..^2])) { w = w[..^2]; extra = true; }
        else if (w.EndsWith("ing", StringComparison.Ordinal) && HasVowel(w[..^3])) { w = w[..^3]; extra = true; }
        if (extra)
        {
            if (w.EndsWith("at", StringComparison.Ordinal) || w.EndsWith("bl", StringComparison.Ordinal) || w.EndsWith("iz", StringComparison.Ordinal)) { w += "e"; }
            else if (EndsDoubleConsonant(w) && !(w.EndsWith('l') || w.EndsWith('s') || w.EndsWith('z'))) { w = w[..^1]; }
            else if (Measure(w) == 1 && EndsCvc(w)) { w += "e"; }
        }
        // Step 1c
        if (w.EndsWith('y') && HasVowel(w[..^1])) { w = w[..^1] + "i"; }
        // Step 2
        w = ReplaceSuffix(w, 0, Step2);
        // Step 3
        w = ReplaceSuffix(w, 0, Step3);
        // Step 4
        foreach (var s in Step4)
        {
            if (w.EndsWith(s, StringComparison.Ordinal))
            {
                var stem = w[..^s.Length];
                if (Measure(stem) > 1 && (s != "ion" || stem.EndsWith('s') || stem.EndsWith('t')))
                {
                    w = stem;
                }
                break;
            }
        }
        // Step 5a
        if (w.EndsWith('e'))
        {
            var stem = w[..^1];
            int m = Measure(stem);
            if (m > 1 || (m == 1 && !EndsCvc(stem))) { w = stem; }
        }
        // Step 5b
        if (Measure(w) > 1 && EndsDoubleConsonant(w) && w.EndsWith('l')) { w = w[..^1]; }
        return w;
    }

    private static readonly (string From, string To)[] Step2 =
    [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"), ("abli", "able"),
        ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"),
        ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"),
        ("iviti", "ive"), ("biliti", "ble"),
    ];

    private static readonly (string From, string To)[] Step3 =
    [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
    ];

    // Longest first where one suffix ends another (ement before ment before ent).
    private static readonly string[] Step4 =
    [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate", "iti",
        "ous", "ive", "ize",
    ];

    private static string ReplaceSuffix(string w, int minMeasureExclusive, (string From, string To)[] rules)
    {
        // The paper's rule tables are checked by the longest matching suffix.
        (string From, string To)? best = null;
        foreach (var r in rules)
        {
            if (w.EndsWith(r.From, StringComparison.Ordinal) && (best is null || r.From.Length > best.Value.From.Length))
            {
                best = r;
            }
        }
        if (best is { } b && Measure(w[..^b.From.Length]) > minMeasureExclusive)
        {
            return w[..^b.From.Length] + b.To;
        }
        return w;
    }

    private static bool IsConsonant(string w, int i) => w[i] switch
    {
        'a' or 'e' or 'i' or 'o' or 'u' => false,
        'y' => i == 0 || !IsConsonant(w, i - 1),
        _ => true,
    };

    /// <summary>m in [C](VC)^m[V].</summary>
    internal static int Measure(string w)
    {
        int m = 0, i = 0, n = w.Length;
        while (i < n && IsConsonant(w, i)) { i++; }
        while (i < n)
        {
            while (i < n && !IsConsonant(w, i)) { i++; }
            if (i >= n) { break; }
            while (i < n && IsConsonant(w, i)) { i++; }
            m++;
        }
        return m;
    }

    private static bool HasVowel(string w)
    {
        for (int i = 0; i < w.Length; i++)
        {
            if (!IsConsonant(w, i)) { return true; }
        }
        return false;
    }

    private static bool EndsDoubleConsonant(string w) =>
        w.Length >= 2 && w[^1] == w[^2] && IsConsonant(w, w.Length - 1);

    private static bool EndsCvc(string w)
    {
        int n = w.Length;
        return n >= 3 && IsConsonant(w, n - 1) && !IsConsonant(w, n - 2) && IsConsonant(w, n - 3)
            && w[^1] is not ('w' or 'x' or 'y');
    }
}
