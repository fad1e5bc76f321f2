using System.Text;
using System.Text.Json;

namespace EmbeddingGemma.Tokenization;

/// <summary>What a Hugging Face tokenizer.json of the Gemma shape holds, after validation.</summary>
internal sealed class TokenizerDefinition
{
    public required Dictionary<string, int> Vocab { get; init; }
    /// <summary>Merges resolved to ids, in rank order: (left, right, merged).</summary>
    public required List<(int Left, int Right, int Merged)> Merges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    public string? UnkToken { get; init; }
    public bool ByteFallback { get; init; }
    public bool FuseUnk { get; init; }
    public bool IgnoreMerges { get; init; }
    /// <summary>The normalizer's one-character replacement (' ' -> '▁' for Gemma); '\0' when there is no normalizer.</summary>
    public char NormalizeFrom { get; init; }
    public char NormalizeTo { get; init; }
}

/// <summary>
/// Reads tokenizer.json with a forward-only <see cref="Utf8JsonReader"/> (no DOM of the 33 MB file) and checks it
/// has the structure this tokenizer implements. Every error names the file and the JSON path at fault.
/// </summary>
internal static class TokenizerJsonLoader
{
    public static TokenizerDefinition Load(ReadOnlySpan<byte> utf8Json, string source)
    {
        try
        {
            return Parse(utf8Json, source);
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{source}: malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}", e)
            { FilePath = source };
        }
        catch (InvalidOperationException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: malformed JSON: {e.Message}", e) { FilePath = source };
        }
    }

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return i > 0 ? message[..i].TrimEnd() : message;
    }

    private static EmbeddingGemmaException Bad(string source, string path, string what) =>
        new(ErrorKind.InvalidFormat, $"{source}: {path}: {what}") { FilePath = source };

    private static EmbeddingGemmaException Unsupported(string source, string path, string what) =>
        new(ErrorKind.Unsupported, $"{source}: {path}: {what}") { FilePath = source };

    private static TokenizerDefinition Parse(ReadOnlySpan<byte> utf8Json, string source)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        if (!reader.Read())
        {
            throw Bad(source, "$", "the file is empty; expected a JSON object");
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Bad(source, "$", $"expected a JSON object, found {reader.TokenType}");
        }

        List<AddedToken>? added = null;
        ModelPart? model = null;
        var normalizeFrom = '\0';
        var normalizeTo = '\0';
        var sawNormalizer = false;
        var splitsOnSpace = false;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "added_tokens":
                    added = ReadAddedTokens(ref reader, source);
                    break;
                case "normalizer":
                    sawNormalizer = true;
                    (normalizeFrom, normalizeTo) = ReadNormalizer(ref reader, source);
                    break;
                case "pre_tokenizer":
                    splitsOnSpace = ReadPreTokenizer(ref reader, source);
                    break;
                case "model":
                    model = ReadModel(ref reader, source);
                    break;
                default:
                    // version, truncation, padding, post_processor (overridden by tokenizer_config.json's
                    // add_bos_token/add_eos_token, as transformers does), decoder (Gemma's is implemented).
                    reader.Skip();
                    break;
            }
        }
        if (model is null)
        {
            throw Bad(source, "$.model", "missing; expected the BPE model object");
        }
        if (!sawNormalizer)
        {
            throw Bad(source, "$.normalizer", "missing; expected {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"} or null");
        }
        if (splitsOnSpace && normalizeFrom != ' ')
        {
            throw Unsupported(source, "$.pre_tokenizer", "a Split on \" \" is only supported after a normalizer that replaces \" \" (then it has no effect)");
        }

        // Resolve merges to ids.
        var vocab = model.Vocab ?? throw Bad(source, "$.model.vocab", "missing; expected an object mapping pieces to ids");
        var merges = model.MergeIds;
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        var buffer = new char[256];
        for (var i = 0; i < model.MergeStrings.Count; i++)
        {
            var (a, b) = model.MergeStrings[i];
            if (!lookup.TryGetValue(a, out var left))
            {
                throw Bad(source, $"$.model.merges[{i}]", $"piece \"{a}\" is not in $.model.vocab");
            }
            if (!lookup.TryGetValue(b, out var right))
            {
                throw Bad(source, $"$.model.merges[{i}]", $"piece \"{b}\" is not in $.model.vocab");
            }
            var len = a.Length + b.Length;
            if (buffer.Length < len)
            {
                buffer = new char[len * 2];
            }
            a.CopyTo(buffer);
            b.CopyTo(buffer.AsSpan(a.Length));
            if (!lookup.TryGetValue(buffer.AsSpan(0, len), out var merged))
            {
                throw Bad(source, $"$.model.merges[{i}]", $"the merged piece \"{a}{b}\" is not in $.model.vocab");
            }
            merges.Add((left, right, merged));
        }
        if (model.UnkToken is not null && !vocab.ContainsKey(model.UnkToken))
        {
            throw Bad(source, "$.model.unk_token", $"\"{model.UnkToken}\" is not in $.model.vocab");
        }
        return new TokenizerDefinition
        {
            Vocab = vocab,
            Merges = merges,
            AddedTokens = added ?? new List<AddedToken>(),
            UnkToken = model.UnkToken,
            ByteFallback = model.ByteFallback,
            FuseUnk = model.FuseUnk,
            IgnoreMerges = model.IgnoreMerges,
            NormalizeFrom = normalizeFrom,
            NormalizeTo = normalizeTo,
        };
    }

    private sealed class ModelPart
    {
        public Dictionary<string, int>? Vocab;
        public List<(string, string)> MergeStrings = new();
        public List<(int, int, int)> MergeIds = new();
        public string? UnkToken;
        public bool ByteFallback;
        public bool FuseUnk;
        public bool IgnoreMerges;
    }

    /// <summary>Reads to the next property name, or the end of the object.</summary>
    private static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new JsonException("unexpected end of data");
        }
        return reader.TokenType;
    }

    private static string TypeName(JsonTokenType t) => t switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string source, string path, string what)
    {
        if (reader.TokenType != type)
        {
            throw Bad(source, path, $"expected {what}, found {TypeName(reader.TokenType)}");
        }
    }

    private static bool ReadBool(ref Utf8JsonReader reader, string source, string path)
    {
        if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
        {
            return reader.GetBoolean();
        }
        if (reader.TokenType == JsonTokenType.Null)
        {
            return false;
        }
        throw Bad(source, path, $"expected a boolean, found {TypeName(reader.TokenType)}");
    }

    private static string ReadString(ref Utf8JsonReader reader, string source, string path)
    {
        Expect(ref reader, JsonTokenType.String, source, path, "a string");
        return reader.GetString()!;
    }

    private static int ReadId(ref Utf8JsonReader reader, string source, string path)
    {
        Expect(ref reader, JsonTokenType.Number, source, path, "a token id (a number)");
        if (!reader.TryGetInt32(out var id) || id < 0)
        {
            throw Bad(source, path, "expected a token id between 0 and 2^31-1");
        }
        return id;
    }

    private static List<AddedToken> ReadAddedTokens(ref Utf8JsonReader reader, string source)
    {
        var list = new List<AddedToken>();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return list;
        }
        Expect(ref reader, JsonTokenType.StartArray, source, "$.added_tokens", "an array");
        var index = 0;
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            var path = $"$.added_tokens[{index}]";
            Expect(ref reader, JsonTokenType.StartObject, source, path, "an object");
            int? id = null;
            string? content = null;
            bool special = false, normalized = false, lstrip = false, rstrip = false, singleWord = false;
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                reader.Read();
                var p = path + "." + name;
                switch (name)
                {
                    case "id": id = ReadId(ref reader, source, p); break;
                    case "content": content = ReadString(ref reader, source, p); break;
                    case "special": special = ReadBool(ref reader, source, p); break;
                    case "normalized": normalized = ReadBool(ref reader, source, p); break;
                    case "lstrip": lstrip = ReadBool(ref reader, source, p); break;
                    case "rstrip": rstrip = ReadBool(ref reader, source, p); break;
                    case "single_word": singleWord = ReadBool(ref reader, source, p); break;
                    default: reader.Skip(); break;
                }
            }
            if (id is null)
            {
                throw Bad(source, path + ".id", "missing");
            }
            if (content is null)
            {
                throw Bad(source, path + ".content", "missing");
            }
            if (content.Length == 0)
            {
                throw Bad(source, path + ".content", "empty; an added token must have text");
            }
            list.Add(new AddedToken(id.Value, content, special, normalized, lstrip, rstrip, singleWord));
            index++;
        }
        return list;
    }

    private static (char From, char To) ReadNormalizer(ref Utf8JsonReader reader, string source)
    {
        const string Path = "$.normalizer";
        if (reader.TokenType == JsonTokenType.Null)
        {
            return ('\0', '\0');
        }
        Expect(ref reader, JsonTokenType.StartObject, source, Path, "an object or null");
        string? type = null, pattern = null, content = null;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "type": type = ReadString(ref reader, source, Path + ".type"); break;
                case "content": content = ReadString(ref reader, source, Path + ".content"); break;
                case "pattern":
                    Expect(ref reader, JsonTokenType.StartObject, source, Path + ".pattern", "an object");
                    while (Next(ref reader) != JsonTokenType.EndObject)
                    {
                        var kind = reader.GetString()!;
                        reader.Read();
                        if (kind != "String")
                        {
                            throw Unsupported(source, Path + ".pattern." + kind, "only a \"String\" pattern is supported");
                        }
                        pattern = ReadString(ref reader, source, Path + ".pattern.String");
                    }
                    break;
                default: reader.Skip(); break;
            }
        }
        if (type != "Replace")
        {
            throw Unsupported(source, Path + ".type", $"\"{type}\" is not supported; expected \"Replace\" (Gemma: \" \" -> \"▁\")");
        }
        if (pattern is not { Length: 1 } || content is not { Length: 1 })
        {
            throw Unsupported(source, Path, $"only a one-character Replace is supported (Gemma: \" \" -> \"▁\"), found \"{pattern}\" -> \"{content}\"");
        }
        return (pattern[0], content[0]);
    }

    /// <returns>true for Split(" ", MergedWithPrevious), false for null.</returns>
    private static bool ReadPreTokenizer(ref Utf8JsonReader reader, string source)
    {
        const string Path = "$.pre_tokenizer";
        if (reader.TokenType == JsonTokenType.Null)
        {
            return false;
        }
        Expect(ref reader, JsonTokenType.StartObject, source, Path, "an object or null");
        string? type = null, pattern = null;
        var invert = false;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "type": type = ReadString(ref reader, source, Path + ".type"); break;
                case "invert": invert = ReadBool(ref reader, source, Path + ".invert"); break;
                case "pattern":
                    Expect(ref reader, JsonTokenType.StartObject, source, Path + ".pattern", "an object");
                    while (Next(ref reader) != JsonTokenType.EndObject)
                    {
                        var kind = reader.GetString()!;
                        reader.Read();
                        if (kind != "String")
                        {
                            throw Unsupported(source, Path + ".pattern." + kind, "only a \"String\" pattern is supported");
                        }
                        pattern = ReadString(ref reader, source, Path + ".pattern.String");
                    }
                    break;
                default: reader.Skip(); break;
            }
        }
        if (type != "Split" || pattern != " " || invert)
        {
            throw Unsupported(source, Path, $"only null or Gemma's Split(\" \") is supported, found type \"{type}\" pattern \"{pattern}\"");
        }
        return true;
    }

    private static ModelPart ReadModel(ref Utf8JsonReader reader, string source)
    {
        const string Path = "$.model";
        Expect(ref reader, JsonTokenType.StartObject, source, Path, "an object");
        var model = new ModelPart();
        string? type = null;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            reader.Read();
            var p = Path + "." + name;
            switch (name)
            {
                case "type": type = ReadString(ref reader, source, p); break;
                case "unk_token": model.UnkToken = reader.TokenType == JsonTokenType.Null ? null : ReadString(ref reader, source, p); break;
                case "byte_fallback": model.ByteFallback = ReadBool(ref reader, source, p); break;
                case "fuse_unk": model.FuseUnk = ReadBool(ref reader, source, p); break;
                case "ignore_merges": model.IgnoreMerges = ReadBool(ref reader, source, p); break;
                case "dropout":
                    if (reader.TokenType == JsonTokenType.Number && reader.GetDouble() > 0)
                    {
                        throw Unsupported(source, p, "BPE dropout is not supported (it makes encoding random)");
                    }
                    reader.Skip();
                    break;
                case "continuing_subword_prefix":
                case "end_of_word_suffix":
                    if (reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0)
                    {
                        throw Unsupported(source, p, "not supported (Gemma's BPE has none)");
                    }
                    reader.Skip();
                    break;
                case "vocab": model.Vocab = ReadVocab(ref reader, source, p); break;
                case "merges": ReadMerges(ref reader, source, p, model); break;
                default: reader.Skip(); break;
            }
        }
        if (type is null)
        {
            throw Bad(source, Path + ".type", "missing; expected \"BPE\"");
        }
        if (type != "BPE")
        {
            throw Unsupported(source, Path + ".type", $"\"{type}\" is not supported; expected \"BPE\" (the Gemma 3 tokenizer)");
        }
        if (model.Vocab is null)
        {
            throw Bad(source, Path + ".vocab", "missing; expected an object mapping pieces to ids");
        }
        return model;
    }

    private static Dictionary<string, int> ReadVocab(ref Utf8JsonReader reader, string source, string path)
    {
        Expect(ref reader, JsonTokenType.StartObject, source, path, "an object mapping pieces to ids");
        var vocab = new Dictionary<string, int>(1 << 18, StringComparer.Ordinal);
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var piece = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var id) || id < 0)
            {
                throw Bad(source, path + "[\"" + piece + "\"]", $"expected a token id between 0 and 2^31-1, found {TypeName(reader.TokenType)}");
            }
            if (!vocab.TryAdd(piece, id))
            {
                throw Bad(source, path, $"piece \"{piece}\" appears twice");
            }
        }
        return vocab;
    }

    private static void ReadMerges(ref Utf8JsonReader reader, string source, string path, ModelPart model)
    {
        Expect(ref reader, JsonTokenType.StartArray, source, path, "an array");
        var index = 0;
        // Fast path (the vocabulary came first, as Hugging Face writes it): resolve each pair to ids through a span
        // lookup, with no string allocated per merge.
        var lookup = model.Vocab?.GetAlternateLookup<ReadOnlySpan<char>>();
        var buffer = new char[512];
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    throw Bad(source, $"{path}[{index}][0]", $"expected a string, found {TypeName(reader.TokenType)}");
                }
                if (lookup is { } fast)
                {
                    var aLen = CopyString(ref reader, ref buffer, 0);
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        throw Bad(source, $"{path}[{index}][1]", $"expected a string, found {TypeName(reader.TokenType)}");
                    }
                    var bLen = CopyString(ref reader, ref buffer, aLen);
                    var a = buffer.AsSpan(0, aLen);
                    var b = buffer.AsSpan(aLen, bLen);
                    if (!fast.TryGetValue(a, out var left))
                    {
                        throw Bad(source, $"{path}[{index}]", $"piece \"{a}\" is not in $.model.vocab");
                    }
                    if (!fast.TryGetValue(b, out var right))
                    {
                        throw Bad(source, $"{path}[{index}]", $"piece \"{b}\" is not in $.model.vocab");
                    }
                    if (!fast.TryGetValue(buffer.AsSpan(0, aLen + bLen), out var merged))
                    {
                        throw Bad(source, $"{path}[{index}]", $"the merged piece \"{a}{b}\" is not in $.model.vocab");
                    }
                    model.MergeIds.Add((left, right, merged));
                }
                else
                {
                    var a = reader.GetString()!;
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        throw Bad(source, $"{path}[{index}][1]", $"expected a string, found {TypeName(reader.TokenType)}");
                    }
                    model.MergeStrings.Add((a, reader.GetString()!));
                }
                if (Next(ref reader) != JsonTokenType.EndArray)
                {
                    throw Bad(source, $"{path}[{index}]", "expected a pair [left, right]");
                }
            }
            else if (reader.TokenType == JsonTokenType.String)
            {
                // The older "left right" form.
                var s = reader.GetString()!;
                var space = s.IndexOf(' ', StringComparison.Ordinal);
                if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                {
                    throw Bad(source, $"{path}[{index}]", $"expected \"left right\" (two pieces separated by one space), found \"{s}\"");
                }
                model.MergeStrings.Add((s[..space], s[(space + 1)..]));
            }
            else
            {
                throw Bad(source, $"{path}[{index}]", $"expected a pair [left, right] or a \"left right\" string, found {TypeName(reader.TokenType)}");
            }
            index++;
        }
        if (model.MergeIds.Count > 0 && model.MergeStrings.Count > 0)
        {
            throw Bad(source, path, "mixes [left, right] pairs and \"left right\" strings");
        }
    }

    private static int CopyString(ref Utf8JsonReader reader, ref char[] buffer, int offset)
    {
        var max = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (buffer.Length < offset + max)
        {
            Array.Resize(ref buffer, (offset + max) * 2);
        }
        return reader.CopyString(buffer.AsSpan(offset));
    }

    /// <summary>Reads add_bos_token / add_eos_token from tokenizer_config.json (null when a field is absent).</summary>
    public static (bool? AddBos, bool? AddEos) LoadConfig(ReadOnlySpan<byte> utf8Json, string source)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Bad(source, "$", "expected a JSON object");
            }
            bool? bos = null, eos = null;
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "add_bos_token": bos = ReadBool(ref reader, source, "$.add_bos_token"); break;
                    case "add_eos_token": eos = ReadBool(ref reader, source, "$.add_eos_token"); break;
                    default: reader.Skip(); break;
                }
            }
            return (bos, eos);
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{source}: malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}", e)
            { FilePath = source };
        }
        catch (InvalidOperationException e)
        {
            // fuzz/crashes/tokenizer-json/config-invalid-utf8-*.bin: a property name that is not valid UTF-8
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: malformed JSON: {e.Message}", e) { FilePath = source };
        }
    }

    internal static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
