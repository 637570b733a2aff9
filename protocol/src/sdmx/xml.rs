//! The SDMX-ML 3.0 structure message reader (`quick-xml`).
//!
//! It builds a small tree of the parts of the message the node uses (codelists, value lists,
//! concept schemes, data structures, dataflows), skipping the header, annotations and every
//! other kind of artefact, then reads that tree into what [`super::resolve`] checks. Element
//! names are matched by their local name, so any namespace prefix works; the root must be a
//! `Structure` in the SDMX-ML 3.0 (or 3.1) namespace. Document type declarations are refused,
//! so no entity can expand. Input size is capped by the caller
//! ([`MAX_STRUCTURE_MESSAGE_LEN`](super::resolve::MAX_STRUCTURE_MESSAGE_LEN)); nesting depth
//! and the number of elements kept are capped here.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::raw::{
    RawAttachment, RawCode, RawCodelist, RawComponent, RawConcept, RawConceptScheme, RawDataflow,
    RawDsd, RawHead, RawMessage, RawRepresentation,
};
use super::resolve::StructureError;
use super::shown;

/// Deepest element nesting accepted. SDMX-ML structure messages nest about 8 deep.
pub const MAX_XML_DEPTH: usize = 64;

/// Most elements kept from one message (skipped parts do not count).
pub const MAX_XML_ELEMENTS: usize = 1 << 20;

/// Elements whose contents the node never uses.
const SKIPPED: [&str; 4] = ["Header", "Annotations", "Link", "Footer"];

/// Artefact collections the node uses; all others under `Structures` are skipped.
const KEPT_COLLECTIONS: [&str; 5] = [
    "Codelists",
    "ValueLists",
    "ConceptSchemes",
    "DataStructures",
    "Dataflows",
];

/// Elements that repeat, whose paths carry their 1-based position.
const NUMBERED: [&str; 11] = [
    "Codelist",
    "Code",
    "ValueList",
    "ValueItem",
    "ConceptScheme",
    "Concept",
    "DataStructure",
    "Dimension",
    "Attribute",
    "Measure",
    "Dataflow",
];

/// One element kept from the message.
#[derive(Debug, Default)]
struct Node {
    /// Local name.
    name: String,
    /// Attributes by local name, values unescaped.
    attributes: Vec<(String, String)>,
    /// Text content, unescaped.
    text: String,
    children: Vec<Node>,
    /// Where the element is, for error messages.
    path: String,
}

impl Node {
    fn attribute(&self, name: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|child| child.name == name)
    }

    fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|child| child.text.trim().to_owned())
    }

    /// A localised text child (`Name`, `Description`): the English one, else the first.
    fn localised(&self, name: &str) -> Option<String> {
        let english = self
            .children(name)
            .find(|child| child.attribute("lang").as_deref() == Some("en"));
        english
            .or_else(|| self.child(name))
            .map(|child| child.text.trim().to_owned())
    }
}

fn malformed(detail: impl Into<String>) -> StructureError {
    StructureError::Malformed {
        format: "XML",
        detail: detail.into(),
    }
}

/// Reads an SDMX-ML structure message.
pub(crate) fn read(bytes: &[u8]) -> Result<RawMessage, StructureError> {
    let text = std::str::from_utf8(bytes).map_err(|err| malformed(format!("not UTF-8: {err}")))?;
    let root = tree(text)?;
    check_root(&root)?;
    let mut raw = RawMessage::default();
    let Some(structures) = root.child("Structures") else {
        return Ok(raw);
    };
    for collection in &structures.children {
        for item in &collection.children {
            match (collection.name.as_str(), item.name.as_str()) {
                ("Codelists", "Codelist") => raw.codelists.push(codelist(item, "Code")),
                ("ValueLists", "ValueList") => raw.codelists.push(codelist(item, "ValueItem")),
                ("ConceptSchemes", "ConceptScheme") => raw.concept_schemes.push(concepts(item)),
                ("DataStructures", "DataStructure") => raw.dsds.push(data_structure(item)),
                ("Dataflows", "Dataflow") => raw.dataflows.push(dataflow(item)),
                _ => {}
            }
        }
    }
    Ok(raw)
}

/// The root must be an SDMX-ML 3.x `Structure` message.
fn check_root(root: &Node) -> Result<(), StructureError> {
    if root.name != "Structure" {
        return Err(StructureError::OtherDocument {
            reason: format!(
                "the XML root element is {}, not Structure",
                shown(&root.name)
            ),
        });
    }
    let namespaces: Vec<&str> = root
        .attributes
        .iter()
        .filter(|(key, _)| key.starts_with("xmlns"))
        .map(|(_, value)| value.as_str())
        .collect();
    let sdmx = |version: &str| {
        namespaces
            .iter()
            .any(|ns| ns.contains("sdmx.org/resources/sdmxml/schemas/") && ns.contains(version))
    };
    if sdmx("/v3_0/") || sdmx("/v3_1/") {
        Ok(())
    } else if sdmx("/v2_1/") || sdmx("/v2_0/") {
        Err(StructureError::NotAStructureMessage {
            reason: "SDMX-ML 2.x structure messages are not supported; use SDMX-ML 3.0 or \
                     SDMX-JSON"
                .into(),
        })
    } else {
        Err(StructureError::NotAStructureMessage {
            reason: "the Structure element is not in an SDMX-ML 3.0 namespace".into(),
        })
    }
}

/// Builds the tree of kept elements.
fn tree(text: &str) -> Result<Node, StructureError> {
    let mut reader = Reader::from_str(text);
    let mut builder = TreeBuilder::default();
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|err| malformed(format!("at byte {position}: {err}")))?;
        match event {
            Event::Start(start) => builder.open(&start, false)?,
            Event::Empty(start) => builder.open(&start, true)?,
            Event::End(_) => builder.close(),
            Event::Text(t) => builder.text(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(c) => builder.text(&c.into_inner()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_xml_entity(&r)
                        .ok_or_else(|| malformed(format!("unknown entity &{};", shown(&r))))?
                        .to_owned(),
                    Err(err) => return Err(malformed(err.to_string())),
                };
                builder.text(&resolved);
            }
            Event::DocType(_) => {
                return Err(malformed("document type declarations are not accepted"));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    builder.finish()
}

/// Keeps the elements the node uses while the reader walks the document.
#[derive(Default)]
struct TreeBuilder {
    /// Open kept elements, the root first.
    open: Vec<Node>,
    /// Per open element, how many children of each name it has had (for positions).
    counts: Vec<Vec<(String, usize)>>,
    /// The finished root.
    root: Option<Node>,
    /// Depth inside a skipped element (0: not skipping).
    skipping: usize,
    /// Elements kept so far.
    kept: usize,
}

impl TreeBuilder {
    fn open(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<(), StructureError> {
        if self.skipping > 0 || self.root.is_some() {
            self.skipping = self.skipping.saturating_add(usize::from(!empty));
            return Ok(());
        }
        let name = String::from_utf8_lossy(start.local_name().into_inner().as_bytes()).into_owned();
        if self.skip(&name) {
            self.skipping = usize::from(!empty);
            return Ok(());
        }
        if self.open.len() >= MAX_XML_DEPTH {
            return Err(malformed(format!(
                "elements nest deeper than {MAX_XML_DEPTH}"
            )));
        }
        self.kept = self.kept.saturating_add(1);
        if self.kept > MAX_XML_ELEMENTS {
            return Err(malformed(format!("more than {MAX_XML_ELEMENTS} elements")));
        }
        let node = Node {
            path: self.path_of(&name),
            attributes: attributes(start)?,
            name,
            ..Node::default()
        };
        self.open.push(node);
        self.counts.push(Vec::new());
        if empty {
            self.close();
        }
        Ok(())
    }

    /// Whether an element about to open is one the node does not use.
    fn skip(&self, name: &str) -> bool {
        let parent = self.open.last().map(|node| node.name.as_str());
        SKIPPED.contains(&name)
            || (parent == Some("Structures") && !KEPT_COLLECTIONS.contains(&name))
    }

    /// The path of a new child of the innermost open element, counting its position.
    fn path_of(&mut self, name: &str) -> String {
        let parent_path = self
            .open
            .last()
            .map(|node| node.path.as_str())
            .unwrap_or_default();
        let position = match self.counts.last_mut() {
            Some(counts) => match counts.iter_mut().find(|(seen, _)| seen == name) {
                Some((_, count)) => {
                    *count = count.saturating_add(1);
                    *count
                }
                None => {
                    counts.push((name.to_owned(), 1));
                    1
                }
            },
            None => 1,
        };
        let separator = if parent_path.is_empty() { "" } else { "/" };
        if NUMBERED.contains(&name) {
            format!("{parent_path}{separator}{name}[{position}]")
        } else {
            format!("{parent_path}{separator}{name}")
        }
    }

    fn close(&mut self) {
        if self.skipping > 0 {
            self.skipping -= 1;
            return;
        }
        let Some(node) = self.open.pop() else { return };
        self.counts.pop();
        match self.open.last_mut() {
            Some(parent) => parent.children.push(node),
            None => self.root = Some(node),
        }
    }

    fn text(&mut self, text: &str) {
        if self.skipping == 0
            && let Some(node) = self.open.last_mut()
        {
            node.text.push_str(text);
        }
    }

    fn finish(self) -> Result<Node, StructureError> {
        if !self.open.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        self.root.ok_or_else(|| malformed("no root element"))
    }
}

fn attributes(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, StructureError> {
    let mut out = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|err| malformed(err.to_string()))?;
        let key = attribute.key.as_ref();
        let local = match attribute.key.local_name().into_inner() {
            // Keep the prefix of namespace declarations, so the root's can be found.
            _ if key.starts_with("xmlns") => key.to_owned(),
            local => local.to_owned(),
        };
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| malformed(err.to_string()))?;
        out.push((local, value.into_owned()));
    }
    Ok(out)
}

fn head(node: &Node) -> RawHead {
    RawHead {
        path: node.path.clone(),
        agency: node.attribute("agencyID"),
        id: node.attribute("id"),
        version: node.attribute("version"),
        name: node.localised("Name"),
    }
}

fn codelist(node: &Node, item: &str) -> RawCodelist {
    RawCodelist {
        head: head(node),
        partial: matches!(node.attribute("isPartial").as_deref(), Some("true" | "1")),
        codes: node
            .children(item)
            .map(|code| RawCode {
                path: code.path.clone(),
                id: code.attribute("id"),
                name: code.localised("Name"),
                parent: code.child_text("Parent"),
            })
            .collect(),
    }
}

fn concepts(node: &Node) -> RawConceptScheme {
    RawConceptScheme {
        head: head(node),
        concepts: node
            .children("Concept")
            .map(|concept| RawConcept {
                id: concept.attribute("id"),
                name: concept.localised("Name"),
                description: concept.localised("Description"),
                core: concept.child("CoreRepresentation").map(representation),
            })
            .collect(),
    }
}

fn representation(node: &Node) -> RawRepresentation {
    let enumeration = node.child("Enumeration");
    RawRepresentation {
        path: enumeration.map_or_else(|| node.path.clone(), |e| e.path.clone()),
        enumeration: enumeration.map(|e| e.text.trim().to_owned()),
        data_type: node
            .child("TextFormat")
            .or_else(|| node.child("EnumerationFormat"))
            .and_then(|format| format.attribute("textType")),
    }
}

fn data_structure(node: &Node) -> RawDsd {
    let mut raw = RawDsd {
        head: head(node),
        ..RawDsd::default()
    };
    let Some(components) = node.child("DataStructureComponents") else {
        return raw;
    };
    if let Some(list) = components.child("DimensionList") {
        raw.dimensions = list.children("Dimension").map(component).collect();
        raw.time_dimensions = list.children("TimeDimension").map(component).collect();
    }
    if let Some(list) = components.child("AttributeList") {
        raw.attributes = list.children("Attribute").map(component).collect();
    }
    if let Some(list) = components.child("MeasureList") {
        raw.measures = list.children("Measure").map(component).collect();
    }
    raw
}

fn component(node: &Node) -> RawComponent {
    RawComponent {
        path: node.path.clone(),
        id: node.attribute("id"),
        concept: node.child_text("ConceptIdentity"),
        local: node.child("LocalRepresentation").map(representation),
        mandatory: node.attribute("usage").as_deref() == Some("mandatory"),
        attachment: node
            .child("AttributeRelationship")
            .map(attachment)
            .unwrap_or_default(),
    }
}

fn attachment(node: &Node) -> RawAttachment {
    let dimensions: Vec<String> = node
        .children("Dimension")
        .map(|d| d.text.trim().to_owned())
        .collect();
    if !dimensions.is_empty() {
        RawAttachment::Dimensions(dimensions)
    } else if let Some(group) = node.child_text("Group") {
        RawAttachment::Group(group)
    } else if node.child("Observation").is_some() {
        RawAttachment::Observation
    } else if node.child("Dataflow").is_some() {
        RawAttachment::Dataflow
    } else {
        RawAttachment::None
    }
}

fn dataflow(node: &Node) -> RawDataflow {
    let structure = node.child("Structure");
    RawDataflow {
        head: head(node),
        structure: structure.map(|s| s.text.trim().to_owned()),
        structure_path: structure.map_or_else(|| node.path.clone(), |s| s.path.clone()),
    }
}
