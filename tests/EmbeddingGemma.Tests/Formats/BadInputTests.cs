using System.Buffers.Binary;
using System.Text;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Formats;

/// <summary>Broken files and bad arguments give one clear EmbeddingGemmaException naming what is wrong.</summary>
public sealed class BadInputTests
{
    private static string CopyFolder(string src)
    {
        var dst = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, f);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dst, rel))!);
            File.Copy(f, Path.Combine(dst, rel));
        }
        return dst;
    }

    private static EmbeddingGemmaException Fails(Action a, ErrorKind kind, params string[] mentions)
    {
        var e = Assert.Throws<EmbeddingGemmaException>(a);
        Assert.True(e.Kind == kind, $"expected {kind}, got {e.Kind}: {e.Message}");
        foreach (var m in mentions)
        {
            Assert.Contains(m, e.Message, StringComparison.Ordinal);
        }
        return e;
    }

    [Fact]
    public void MissingFileOrFolder()
    {
        Fails(() => EmbeddingGemmaModel.Load("/nonexistent/model-folder"), ErrorKind.NotFound, "/nonexistent/model-folder");
        Fails(() => EmbeddingGemmaModel.Load("/nonexistent/x.gguf"), ErrorKind.NotFound, "x.gguf");
        // hub ids go through the resolver hook (the default is Hub.ModelLocator; a test must not touch the network)
        string? asked = null;
        using (var viaHub = EmbeddingGemmaModel.Load("google/embeddinggemma-300m", new ModelLoadOptions { HubResolver = (id, _) => { asked = id; return TinyModels.Default.Folder; } }))
        {
            Assert.Equal("google/embeddinggemma-300m", asked);
            Assert.Equal(64, viaHub.Dimensions);
        }
        // a hub id goes through the hub resolver; offline with an empty cache it is NotFound, without touching the network
        var offline = new EmbeddingGemma.Hub.HubOptions { Offline = true, CacheDirectory = TestPaths.NewTempDir() };
        Fails(() => EmbeddingGemmaModel.Load("google/embeddinggemma-300m", new ModelLoadOptions { HubResolver = (m, ct) => EmbeddingGemma.Hub.ModelLocator.Resolve(m, offline, null, ct) }),
            ErrorKind.NotFound, "google/embeddinggemma-300m", "HF_HUB_OFFLINE");
        var dir = CopyFolder(TinyModels.Default.Folder);
        File.Delete(Path.Combine(dir, "model.safetensors"));
        Fails(() => EmbeddingGemmaModel.Load(dir), ErrorKind.NotFound, "model.safetensors");
    }

    [Fact]
    public void WrongShapeNamesTensorAndBothShapes()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        var cfg = Path.Combine(dir, "config.json");
        File.WriteAllText(cfg, File.ReadAllText(cfg).Replace("\"intermediate_size\": 128", "\"intermediate_size\": 96", StringComparison.Ordinal));
        Fails(() => EmbeddingGemmaModel.Load(dir), ErrorKind.InvalidFormat, "layers.0.mlp.gate_proj.weight", "[128, 64]", "[96, 64]");
    }

    [Fact]
    public void TruncatedSafetensors()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        var path = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        Fails(() => EmbeddingGemmaModel.Load(dir), ErrorKind.InvalidFormat, "model.safetensors", "truncated");
        File.WriteAllBytes(path, bytes[..5]);
        Fails(() => SafetensorsFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "8-byte header");
        var huge = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 1UL << 40);
        File.WriteAllBytes(path, huge);
        Fails(() => SafetensorsFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "header length");
    }

    [Fact]
    public void UnknownSafetensorsDtype()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "x.safetensors");
        var header = "{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
        var h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        Fails(() => SafetensorsFile.Open(path).Dispose(), ErrorKind.Unsupported, "'w'", "I64", "F32, F16 and BF16");
    }

    [Fact]
    public void CorruptGgufHeaderAndOffsets()
    {
        var good = File.ReadAllBytes(TinyModels.Default.GgufPath);
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "bad.gguf");

        var badMagic = (byte[])good.Clone();
        badMagic[0] = (byte)'X';
        File.WriteAllBytes(path, badMagic);
        Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "magic", "bad.gguf");

        var badVersion = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(badVersion.AsSpan(4), 9);
        File.WriteAllBytes(path, badVersion);
        Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.Unsupported, "version 9");

        var badCount = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(badCount.AsSpan(16), ulong.MaxValue / 2);
        File.WriteAllBytes(path, badCount);
        Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "metadata entries");

        File.WriteAllBytes(path, good[..(good.Length / 2)]);
        Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "bad.gguf");

        // corrupt the offset of the last tensor info: it then points past the end of the file
        using (var g = GgufFile.Open(TinyModels.Default.GgufPath))
        {
            var last = g.Tensors.Values.Last();
            var name = Encoding.UTF8.GetBytes(last.Name);
            var at = IndexOf(good, name) + name.Length + 4 + 8 * last.Shape.Length + 4;
            var badOffset = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(badOffset.AsSpan(at), 1UL << 32);
            File.WriteAllBytes(path, badOffset);
            Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, last.Name, "past the end");
            var misaligned = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(misaligned.AsSpan(at), BinaryPrimitives.ReadUInt64LittleEndian(good.AsSpan(at)) + 4);
            File.WriteAllBytes(path, misaligned);
            Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, last.Name, "alignment");
            var badType = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(badType.AsSpan(at - 4), 99);
            File.WriteAllBytes(path, badType);
            Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.Unsupported, last.Name, "99");
        }
    }

    [Fact]
    public void UnsupportedTensorTypeInAWholeModelNamesTensorAndType()
    {
        // A complete tiny GGUF, rewritten with one tensor stored as Q8_K (a type llama.cpp uses only for activations):
        // loading the model must fail naming that tensor and type, not crash or give vectors.
        var path = Path.Combine(TestPaths.NewTempDir(), "q8k.gguf");
        const string victim = "dense_3.weight";
        using (var g = GgufFile.Open(TinyModels.Default.GgufPath))
        {
            var w = new GgufWriter();
            foreach (var (key, value) in g.Metadata)
            {
                w.AddValue(key, value);
            }
            var found = false;
            foreach (var t in g.Tensors.Values)
            {
                var shape = t.Shape;   // PyTorch order, as the writer takes it
                if (t.Name == victim)
                {
                    found = true;
                    Assert.Equal(0, shape[^1] % 256);
                    w.AddRawTensor(t.Name, GgmlType.Q8_K, shape, new byte[GgmlTypeInfo.RowBytes(GgmlType.Q8_K, shape.Aggregate(1L, (a, b) => a * b))]);
                }
                else
                {
                    w.AddRawTensor(t.Name, t.Type, shape, g.GetBytes(t).ToArray());
                }
            }
            Assert.True(found, $"the tiny GGUF has no {victim}");
            w.Write(path);
        }
        Fails(() => EmbeddingGemmaModel.Load(path).Dispose(), ErrorKind.Unsupported, victim, "Q8_K");
    }

    [Fact]
    public void WrongArchitectureIsRefused()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "llama.gguf");
        new GgufWriter().AddString("general.architecture", "llama").Write(path);
        Fails(() => EmbeddingGemmaModel.Load(path), ErrorKind.Unsupported, "llama", "gemma-embedding");
    }

    [Fact]
    public void BadArguments()
    {
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        Fails(() => m.Encode("x", new EncodeOptions { Dimensions = 0 }), ErrorKind.InvalidArgument, "between 1 and 64");
        Fails(() => m.Encode("x", new EncodeOptions { Dimensions = 65 }), ErrorKind.InvalidArgument, "between 1 and 64");
        var e = Fails(() => m.Encode("x", new EncodeOptions { PromptName = "nope" }), ErrorKind.InvalidArgument, "'nope'", "query", "Retrieval-document", "Summarization", "retrieval_document", "code_retrieval");
        Fails(() => m.Encode("x", new EncodeOptions { Task = "nope" }), ErrorKind.InvalidArgument, "retrieval_query");
        Fails(() => m.EncodeTokenIds([[2, 1_000_000, 1]]), ErrorKind.InvalidArgument, "1000000", "position 1");
        Fails(() => m.EncodeTokenIds([[]]), ErrorKind.InvalidArgument, "empty");
        Fails(() => m.EncodeTokenIds([new int[2049]]), ErrorKind.InputTooLong, "2049");
        Assert.NotNull(e);
    }

    private static int IndexOf(byte[] hay, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= hay.Length; i++)
        {
            if (hay.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }
        return -1;
    }
}
