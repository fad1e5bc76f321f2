using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace EmbeddingGemma.Packaging.Tests;

/// <summary>
/// Opens every .nupkg/.snupkg of the feed as a zip and checks what nuget.org shows and what a consumer gets: id,
/// description, tags, licence, repository, README, XML docs, symbols, the tool's command, the trimmable marker.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class PackageMetadataTests(PackageFeed feed)
{
    /// <summary>Ids on nuget.org that belong to the unrelated ONNX-based project (and its prefix).</summary>
    private static readonly string[] ForeignIds = ["EmbeddingGemma.NET", "EmbeddingGemma.SemanticKernel"];

    [Fact]
    public void TheFeedHoldsExactlyOnePackageAndOneSymbolPackagePerSourceProject()
    {
        // tests, benchmarks, fuzz targets and examples are not packable; every src/ project is
        Assert.Contains("EmbeddingGemma", feed.Projects);
        Assert.Contains("EmbeddingGemma.Cli", feed.Projects);
        var expected = feed.Projects.Select(p => $"{PackageFeed.IdOf(p)}.{feed.Version}").Order(StringComparer.Ordinal).ToArray();
        string[] Names(string pattern, string ext) => Directory.GetFiles(feed.Feed, pattern)
            .Select(Path.GetFileName).Select(n => n![..^ext.Length]).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, Names("*.nupkg", ".nupkg"));
        Assert.Equal(expected, Names("*.snupkg", ".snupkg"));
    }

    [Fact]
    public void IdsAreDistinctFromTheOnnxBasedPackagesAndOutsideTheirPrefix()
    {
        foreach (var project in feed.Projects)
        {
            var id = Nuspec(project).Element("id");
            Assert.Equal(PackageFeed.IdOf(project), id);
            Assert.StartsWith("ManagedEmbeddingGemma", id, StringComparison.Ordinal);
            Assert.False(id.StartsWith("EmbeddingGemma", StringComparison.OrdinalIgnoreCase), $"{id} sits under the EmbeddingGemma.* prefix");
            Assert.DoesNotContain(id, ForeignIds, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void NuspecHasDescriptionTagsLicenceRepositoryAndReadme()
    {
        foreach (var project in feed.Projects)
        {
            var n = Nuspec(project);
            var id = PackageFeed.IdOf(project);
            Assert.Equal(feed.Version, n.Element("version"));
            Assert.False(string.IsNullOrWhiteSpace(n.Element("authors")), $"{id}: authors");
            var description = n.Element("description");
            Assert.True(description.Length >= 60, $"{id}: description too short: '{description}'");
            Assert.Contains("EmbeddingGemma", description, StringComparison.Ordinal);
            var tags = n.Element("tags").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var tag in new[] { "embeddings", "embeddinggemma", "gguf", "safetensors", "no-onnx" })
            {
                Assert.True(tags.Contains(tag), $"{id}: tag '{tag}' missing from '{string.Join(' ', tags)}'");
            }
            var licence = n.Metadata.Element(n.Ns + "license");
            Assert.NotNull(licence);
            Assert.Equal("expression", (string?)licence.Attribute("type"));
            Assert.Equal("Apache-2.0", licence.Value);
            var repo = n.Metadata.Element(n.Ns + "repository");
            Assert.NotNull(repo);
            Assert.Equal("git", (string?)repo.Attribute("type"));
            Assert.Matches("^https://", (string?)repo.Attribute("url") ?? "");
            Assert.Matches("^[0-9a-f]{40}$", (string?)repo.Attribute("commit") ?? "");
            Assert.Matches("^https://", n.Element("projectUrl"));
            Assert.Equal("README.md", n.Element("readme"));
        }
    }

    [Fact]
    public void ReadmeIsPackedAndSaysWhatThePackageIsAndIsNot()
    {
        foreach (var project in feed.Projects)
        {
            using var zip = ZipFile.OpenRead(feed.Nupkg(project));
            var entry = zip.GetEntry("README.md");
            Assert.True(entry is not null, $"{project}: README.md missing from the package");
            using var reader = new StreamReader(entry.Open());
            var readme = reader.ReadToEnd();
            Assert.Contains(PackageFeed.IdOf(project), readme, StringComparison.Ordinal);
            Assert.Contains("pure managed C#", readme, StringComparison.Ordinal);
            Assert.Contains("Not the `EmbeddingGemma.NET` package", readme, StringComparison.Ordinal);
            Assert.Contains("ONNX Runtime", readme, StringComparison.Ordinal);
            Assert.Contains("```", readme, StringComparison.Ordinal); // a quick start
        }
    }

    [Fact]
    public void LibrariesShipTheirAssemblyWithXmlDocumentation()
    {
        foreach (var project in feed.Projects.Where(p => p != "EmbeddingGemma.Cli"))
        {
            using var zip = ZipFile.OpenRead(feed.Nupkg(project));
            Assert.NotNull(zip.GetEntry($"lib/net10.0/{project}.dll"));
            var xml = zip.GetEntry($"lib/net10.0/{project}.xml");
            Assert.True(xml is not null, $"{project}: lib/net10.0/{project}.xml (XML docs) missing");
            using var s = xml.Open();
            var doc = XDocument.Load(s);
            Assert.Equal(project, doc.Root?.Element("assembly")?.Element("name")?.Value);
            Assert.True(doc.Descendants("member").Any(), $"{project}: the XML documentation file documents no member");
        }
    }

    [Fact]
    public void TheToolPackageInstallsTheEmbeddinggemmaCommand()
    {
        var n = Nuspec("EmbeddingGemma.Cli");
        var type = n.Metadata.Element(n.Ns + "packageTypes")?.Element(n.Ns + "packageType");
        Assert.Equal("DotnetTool", (string?)type?.Attribute("name"));
        using var zip = ZipFile.OpenRead(feed.Nupkg("EmbeddingGemma.Cli"));
        var settings = zip.GetEntry("tools/net10.0/any/DotnetToolSettings.xml");
        Assert.NotNull(settings);
        using var s = settings.Open();
        var command = XDocument.Load(s).Descendants("Command").Single();
        Assert.Equal("embeddinggemma", (string?)command.Attribute("Name"));
        Assert.Equal("EmbeddingGemma.Cli.dll", (string?)command.Attribute("EntryPoint"));
        Assert.NotNull(zip.GetEntry("tools/net10.0/any/EmbeddingGemma.Cli.dll"));
        Assert.NotNull(zip.GetEntry("tools/net10.0/any/EmbeddingGemma.dll"));
    }

    [Fact]
    public void SymbolPackagesHoldTheMatchingPortablePdbOfADeterministicBuild()
    {
        foreach (var project in feed.Projects)
        {
            var folder = project == "EmbeddingGemma.Cli" ? "tools/net10.0/any" : "lib/net10.0";
            using var nupkg = ZipFile.OpenRead(feed.Nupkg(project));
            using var snupkg = ZipFile.OpenRead(feed.Snupkg(project));
            var pdbEntry = snupkg.GetEntry($"{folder}/{project}.pdb");
            Assert.True(pdbEntry is not null, $"{project}: {folder}/{project}.pdb missing from the .snupkg");
            if (project != "EmbeddingGemma.Cli")
            {
                Assert.Null(nupkg.GetEntry($"{folder}/{project}.pdb")); // a library's symbols live in the .snupkg only
            }

            using var pe = new PEReader(new MemoryStream(ReadAll(nupkg.GetEntry($"{folder}/{project}.dll")!)));
            var debug = pe.ReadDebugDirectory();
            Assert.Contains(debug, d => d.Type == DebugDirectoryEntryType.Reproducible); // Deterministic
            var codeView = pe.ReadCodeViewDebugDirectoryData(debug.First(d => d.Type == DebugDirectoryEntryType.CodeView));

            using var provider = MetadataReaderProvider.FromPortablePdbStream(new MemoryStream(ReadAll(pdbEntry)));
            var pdb = provider.GetMetadataReader();
            var pdbId = new BlobContentId(pdb.DebugMetadataHeader!.Id);
            Assert.Equal(codeView.Guid, pdbId.Guid); // the .pdb belongs to exactly this .dll
            var documents = pdb.Documents.Select(d => pdb.GetString(pdb.GetDocument(d).Name)).ToList();
            Assert.Contains(documents, d => d.EndsWith(".cs", StringComparison.Ordinal)); // sequence points into the sources
        }
    }

    [Fact]
    public void TheCoreLibraryIsMarkedTrimmable()
    {
        // IsAotCompatible sets IsTrimmable, which stamps [assembly: AssemblyMetadata("IsTrimmable", "True")]: the
        // trimmer then analyses the library instead of keeping it whole; the AOT test proves the claim.
        using var zip = ZipFile.OpenRead(feed.Nupkg("EmbeddingGemma"));
        using var pe = new PEReader(new MemoryStream(ReadAll(zip.GetEntry("lib/net10.0/EmbeddingGemma.dll")!)));
        var md = pe.GetMetadataReader();
        var metadata = md.GetAssemblyDefinition().GetCustomAttributes()
            .Select(md.GetCustomAttribute)
            .Where(a => a.Constructor.Kind == HandleKind.MemberReference
                && md.GetString(md.GetTypeReference((TypeReferenceHandle)md.GetMemberReference((MemberReferenceHandle)a.Constructor).Parent).Name) == "AssemblyMetadataAttribute")
            .Select(a => a.DecodeValue(new StringOnlyDecoder()))
            .Select(v => ((string?)v.FixedArguments[0].Value, (string?)v.FixedArguments[1].Value))
            .ToList();
        Assert.Contains(("IsTrimmable", "True"), metadata);
    }

    private Spec Nuspec(string project)
    {
        using var zip = ZipFile.OpenRead(feed.Nupkg(project));
        var entry = zip.GetEntry(PackageFeed.IdOf(project) + ".nuspec");
        Assert.True(entry is not null, $"{project}: nuspec missing");
        using var s = entry.Open();
        var doc = XDocument.Load(s);
        var ns = doc.Root!.Name.Namespace;
        return new Spec(doc.Root.Element(ns + "metadata")!, ns);
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var s = entry.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    private sealed record Spec(XElement Metadata, XNamespace Ns)
    {
        public string Element(string name) => Metadata.Element(Ns + name)?.Value ?? "";
    }

    /// <summary>Decodes AssemblyMetadata(string, string) arguments.</summary>
    private sealed class StringOnlyDecoder : ICustomAttributeTypeProvider<object?>
    {
        public object? GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode;
        public object? GetSystemType() => null;
        public object? GetSZArrayType(object? elementType) => null;
        public object? GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => null;
        public object? GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => null;
        public object? GetTypeFromSerializedName(string name) => null;
        public PrimitiveTypeCode GetUnderlyingEnumType(object? type) => PrimitiveTypeCode.Int32;
        public bool IsSystemType(object? type) => false;
    }
}
