using System.IO.Compression;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>
/// The tokenizer parity corpus: texts from every data set in ../shared/data (when present: CI has it beside the
/// clone) plus generated cases that live in this file (code, emoji and ZWJ sequences, whitespace runs, literal
/// special-token strings, long words and lines, the empty string, seeded random mixes). Only valid UTF-16: Hugging
/// Face's tokenizer rejects lone surrogates, so their policy is pinned by a separate test.
/// </summary>
internal static class ParityCorpus
{
    public sealed record Item(string Source, string Text);

    private static readonly Lazy<IReadOnlyList<Item>> All = new(Build);

    public static IReadOnlyList<Item> Items => All.Value;

    private static IReadOnlyList<Item> Build()
    {
        var items = new List<Item>();
        items.AddRange(Generated());
        var data = Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_SHARED_DATA") is { Length: > 0 } env && Directory.Exists(env) ? env : TestPaths.SharedData;
        if (data is not null)
        {
            items.AddRange(FromSharedData(data));
        }
        return items;
    }

    // ------------------------------------------------------------------ shared data

    private static IEnumerable<Item> FromSharedData(string data)
    {
        foreach (var dir in Directory.GetDirectories(Path.Combine(data, "sib200")).Order(StringComparer.Ordinal))
        {
            foreach (var line in Lines(Path.Combine(dir, "test.tsv")).Skip(1).Take(200))
            {
                yield return new("sib200/" + Path.GetFileName(dir), line.Split('\t')[^1]);
            }
        }
        foreach (var file in Directory.GetFiles(Path.Combine(data, "stsb_multi_mt"), "*test.csv").Order(StringComparer.Ordinal))
        {
            foreach (var line in Lines(file).Take(120))
            {
                yield return new("stsb_multi_mt/" + Path.GetFileName(file), line);
            }
        }
        foreach (var line in Lines(Path.Combine(data, "csl_zh", "cls_ctg", "test.tsv")).Take(300))
        {
            yield return new("csl_zh", line);
        }
        foreach (var line in Lines(Path.Combine(data, "csl_zh", "cls_dcp", "test.tsv")).Take(100))
        {
            yield return new("csl_zh/dcp", line);
        }
        foreach (var dir in Directory.GetDirectories(Path.Combine(data, "xquad", "beir")).Order(StringComparer.Ordinal))
        {
            var lang = Path.GetFileName(dir);
            foreach (var text in JsonStrings(Lines(Path.Combine(dir, "queries.jsonl")).Take(150), "text"))
            {
                yield return new("xquad/" + lang + "/queries", text);
            }
            foreach (var text in JsonStrings(Lines(Path.Combine(dir, "corpus.jsonl")).Take(60), "text"))
            {
                yield return new("xquad/" + lang + "/corpus", text);
            }
        }
        foreach (var file in Directory.GetFiles(Path.Combine(data, "amazon_counterfactual"), "*_test.tsv").Order(StringComparer.Ordinal))
        {
            foreach (var line in Lines(file).Skip(1).Take(150))
            {
                yield return new("amazon_counterfactual/" + Path.GetFileName(file), line.Split('\t')[0]);
            }
        }
        foreach (var line in Lines(Path.Combine(data, "banking77", "test.csv")).Skip(1).Take(200))
        {
            yield return new("banking77", line);
        }
        foreach (var line in Lines(Path.Combine(data, "stsbenchmark_en", "stsbenchmark.tsv.gz")).Skip(1).Take(200))
        {
            yield return new("stsbenchmark_en", line);
        }
        foreach (var text in JsonStrings(Lines(Path.Combine(data, "humaneval", "HumanEval.jsonl.gz")), "prompt", "canonical_solution", "test"))
        {
            yield return new("humaneval", text);
        }
        foreach (var text in JsonStrings(Lines(Path.Combine(data, "mbpp", "mbpp.jsonl")).Take(200), "text", "code"))
        {
            yield return new("mbpp", text);
        }
        foreach (var text in JsonStrings(Lines(Path.Combine(data, "scifact_beir", "corpus.jsonl.gz")).Take(200), "title", "text"))
        {
            yield return new("scifact", text);
        }
        foreach (var text in JsonStrings(Lines(Path.Combine(data, "sotu_corpus", "corpus.jsonl.gz")).Take(25), "text"))
        {
            yield return new("sotu_corpus (whole speeches)", text);
        }
    }

    private static IEnumerable<string> Lines(string path)
    {
        if (!File.Exists(path))
        {
            yield break;
        }
        using var stream = File.OpenRead(path);
        using var decompressed = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream;
        using var reader = new StreamReader(decompressed, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

    private static IEnumerable<string> JsonStrings(IEnumerable<string> lines, params string[] fields)
    {
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            foreach (var f in fields)
            {
                if (doc.RootElement.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String)
                {
                    yield return v.GetString()!;
                }
            }
        }
    }

    // ------------------------------------------------------------------ generated

    /// <summary>Whether ../shared/data (or EMBEDDINGGEMMA_SHARED_DATA) was found.</summary>
    public static bool HasSharedData => Items.Any(i => !i.Source.StartsWith("generated", StringComparison.Ordinal));

    /// <summary>Hand-written edge cases and seeded random mixes; independent of ../shared.</summary>
    public static IEnumerable<Item> Generated()
    {
        string[] fixedCases =
        [
            "", " ", "  ", "   ", "\t", "\n", "\r\n", " \n ", "\n\n\n", "\t\t \t", "a", "Hello world", "hello", " Hello", "Hello ",
            "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>user\nHi<end_of_turn>", "<table><tr><td>1</td></tr></table>",
            "<bos><bos>", "x<bos>y", "<bo", "<bos", "bos>", "<<bos>>", "<unused0>", "<unused6241>", "<start_of_image>", "<end_of_image>",
            "<h1>Title</h1>\n<p>para</p>", "<strong>bold</strong> and <em>em</em>", "<code>x = 1</code>",
            "▁", "▁▁", "▁Hello", "a▁b", "▁▁▁ x", "\u2581\u2581\u2581\u2581",
            "👋🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷🇯🇵", "e\u0301", "ﬁ", "Ａ", "\u200b", "\u00a0", "\u3000", "\ufeff", "\u0000", "\u007f",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠀀𠀁𠀂", "\U0010FFFF", "\uFFFD", "\uE000",
            "def f(x):\n    return x * 2\n", "if (a && b) { return c; }\n\t// comment", "SELECT * FROM t WHERE id = 42;",
            "https://example.com/a/b?c=d&e=f#g", "user@example.com", "3.14159 2,718 1e-9 0x1F -42 +7 100%",
            "Ünïcödé façade naïve", "Привет, мир!", "你好，世界！", "こんにちは世界", "안녕하세요 세계", "مرحبا بالعالم", "नमस्ते दुनिया",
            "שלום עולם", "Γειά σου Κόσμε", "สวัสดีชาวโลก", "Xin chào thế giới",
        ];
        foreach (var c in fixedCases)
        {
            yield return new("generated/fixed", c);
        }
        for (var n = 1; n <= 70; n += 3)
        {
            yield return new("generated/space runs", new string(' ', n));
            yield return new("generated/newline runs", new string('\n', n));
            yield return new("generated/tab runs", new string('\t', n));
            yield return new("generated/mixed runs", string.Concat(Enumerable.Repeat(" \t\n", n)));
            yield return new("generated/words with spaces", "a" + new string(' ', n) + "b");
        }
        yield return new("generated/long word", new string('a', 5000));
        yield return new("generated/long word", string.Concat(Enumerable.Repeat("abc", 3000)));
        yield return new("generated/long word", new string('é', 3000));
        yield return new("generated/long word", string.Concat(Enumerable.Repeat("😀", 2000)));
        yield return new("generated/long word", string.Concat(Enumerable.Repeat("Pneumonoultramicroscopicsilicovolcanoconiosis", 100)));
        yield return new("generated/long line", string.Join(' ', Enumerable.Range(0, 4000).Select(i => "word" + i)));
        yield return new("generated/long line", new string(' ', 10000));
        yield return new("generated/long line", new string('\n', 3000));
        yield return new("generated/long line", string.Concat(Enumerable.Repeat("<bos>", 1000)));

        // Seeded random mixes over a palette that stresses every path: added tokens and their fragments, spaces,
        // ▁, byte fallback (rare scripts, private use), surrogate pairs, combining marks, ZWJ.
        string[] palette =
        [
            " ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "▁", "<", ">", "/", "<bos>", "<eos>", "<table>", "</td>", "<start_of_turn>",
            "<unused1", "bos", "the", "The", " the", "ing", "tion", "un", "123", "4", ".", ",", "!", "?", "'", "\"", "(", ")", "{", "}",
            "_", "-", "=", "==", "=>", "->", "#", "@", "é", "ß", "ø", "ñ", "ü", "中", "文", "字", "日本", "語", "한", "국", "я", "ж",
            "ا", "ل", "ह", "ि", "ไ", "ก", "😀", "👍", "🏽", "\u200d", "\u0301", "\u0308", "\ufe0f", "\u00a0", "\u2028", "\uE123",
            "\U0001F9EA", "\U00020BB7", "𓀀", "ᚠ", "ꙮ", "\u0000", "\u001b", "x", "y", "z", "Q", "W",
        ];
        var rng = new Random(20260127);
        for (var i = 0; i < 2600; i++)
        {
            var sb = new StringBuilder();
            var parts = rng.Next(1, i % 10 == 0 ? 400 : 40);
            for (var k = 0; k < parts; k++)
            {
                sb.Append(palette[rng.Next(palette.Length)]);
            }
            yield return new("generated/random mix", sb.ToString());
        }
        // Random scalar values from the whole Unicode range (no surrogates): byte fallback and rare pieces.
        for (var i = 0; i < 400; i++)
        {
            var sb = new StringBuilder();
            var n = rng.Next(1, 30);
            for (var k = 0; k < n; k++)
            {
                int cp;
                do
                {
                    cp = rng.Next(0, 0x110000);
                }
                while (cp is >= 0xD800 and <= 0xDFFF);
                sb.Append(char.ConvertFromUtf32(cp));
                if (rng.Next(4) == 0)
                {
                    sb.Append(' ');
                }
            }
            yield return new("generated/random scalars", sb.ToString());
        }
    }
}
