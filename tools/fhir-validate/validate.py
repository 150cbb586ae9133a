#!/usr/bin/env python3
"""Validate FHIR R4 (4.0.1) JSON resources, independently of Renkei's own code.

Usage: validate.py [--print-json] FILE [FILE...]   (FILE may be "-" for standard input)

Each FILE holds one JSON document: a single resource (an object with
"resourceType") or a JSON array of resources.  Every resource is checked in
two passes:

1. the fhir.resources R4 models (pydantic): element names and cardinality,
   nested datatypes, primitive formats, Bundle entry resources, contained
   resources, choice types, unknown elements (extra fields are forbidden);
2. a JSON-level pass, driven by the same model metadata, that closes gaps the
   models leave because pydantic coerces values or skips some rules:
   - JSON value kinds: boolean must be true/false, integer/decimal must be JSON
     numbers, every other primitive a JSON string ("1.5" for a decimal, 1 for
     a boolean, 123 for a string are errors);
   - no null, empty string, empty array or empty object (FHIR JSON rules;
     null is allowed only as a placeholder inside primitive arrays);
   - codes with a required binding must be one of the bound codes (when the
     model lists them completely, see bound_codes);
   - full-string format of uri, canonical, code, id, oid, date, dateTime,
     instant and time (the models only match a prefix);
   - required elements the models miss (e.g. Extension.url);
   - embedded resources must carry a known resource type;
   - Narrative.div must be a well-formed XHTML <div>.

A FILE whose name ends in .xml holds one FHIR XML document (R4 §2.6.2) or several
concatenated inside a <documents> element. It is read into the JSON form with the models'
metadata — checking on the way the namespace, that every element is one the type defines, in
the order its definition gives (elements_sequence), that only primitives carry `value`, only
Extension `url` and elements `id` as attributes, and that a non-repeating element does not
repeat — and the JSON is then checked as above. With --print-json the JSON read from the XML
files is printed (one array) so that a caller can compare it with the JSON answer.

Exit status: 0 all valid, 1 at least one invalid resource, 2 unreadable file,
invalid JSON or bad usage, 3 the validator's environment is broken.
"""

import decimal
import json
import re
import sys
import typing
import xml.etree.ElementTree as ET

try:
    import fhir.resources
    from fhir.resources import fhirtypes, get_fhir_model_class
    from fhir.resources.resource import Resource
    from pydantic import ValidationError
    from pydantic.fields import SHAPE_SINGLETON
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"fhir-validate: cannot import fhir.resources ({exc}); run ensure.sh", file=sys.stderr)
    sys.exit(3)

EXPECTED_FHIR_VERSION = "4.0.1"
XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"

# Primitive types whose whole value must match the model's own regex.
FULLMATCH_TYPES = {"uri", "canonical", "code", "id", "oid", "date", "dateTime", "instant", "time"}
NUMBER_TYPES = {"integer", "unsignedInt", "positiveInt", "decimal"}


class BadInput(Exception):
    """The input could not be read or is not acceptable JSON (exit 2)."""


# --------------------------------------------------------------------------
# Reading input


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate object key {key!r}")
        obj[key] = value
    return obj


def load_document(path):
    """Parse one file ("-" is stdin); decimals are kept exact."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(
            text,
            parse_float=decimal.Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except ValueError as exc:
        raise BadInput(f"{path}: invalid JSON: {exc}") from exc


# --------------------------------------------------------------------------
# FHIR XML → the JSON form


FHIR_NS = "{http://hl7.org/fhir}"


def load_xml_documents(path, errors):
    """The resources of an XML file, read into JSON objects; problems go to `errors`."""
    try:
        with open(path, "rb") as fh:
            root = ET.parse(fh).getroot()
    except (OSError, ET.ParseError) as exc:
        raise BadInput(f"{path}: invalid XML: {exc}") from exc
    elements = list(root) if root.tag == "documents" else [root]
    return [xml_resource(e, (f"document {i}",), errors) for i, e in enumerate(elements)]


def xml_name(elem, loc, errors):
    """An element's local name; it must be in the FHIR namespace."""
    if not isinstance(elem.tag, str) or not elem.tag.startswith(FHIR_NS):
        errors.append((loc, f"element {elem.tag!r} is not in the FHIR namespace"))
        return elem.tag.rsplit("}", 1)[-1] if isinstance(elem.tag, str) else ""
    return elem.tag[len(FHIR_NS):]


def xml_resource(elem, loc, errors):
    name = xml_name(elem, loc, errors)
    cls = resource_class(name)
    obj = {"resourceType": name}
    if cls is None:
        errors.append((loc, f"unknown R4 resource {name!r}"))
        return obj
    xml_children_into(obj, elem, cls, loc, errors, is_resource=True)
    return obj


def xml_children_into(obj, elem, cls, loc, errors, is_resource=False):
    fields = elements_by_json_name(cls)
    sequence = cls.elements_sequence()
    for attr, value in elem.attrib.items():
        if attr == "id" and not is_resource:
            obj["id"] = value
        elif attr == "url" and cls.__name__ == "Extension":
            obj["url"] = value
        elif attr == "value" and not is_resource:
            errors.append((loc, "a value attribute on a complex element"))
        else:
            errors.append((loc, f"attribute {attr!r} is not allowed here"))
    last = -1
    for child in elem:
        if not isinstance(child.tag, str):  # a comment
            continue
        name = xml_name(child, loc, errors)
        here = loc + (name,)
        field = fields.get(name)
        if field is None or name in ("resourceType",):
            errors.append((here, f"{cls.__name__} has no element {name!r}"))
            continue
        position = sequence.index(name) if name in sequence else -1
        if position < last:
            errors.append((here, f"out of order: {name!r} must come before {sequence[last]!r}"))
        last = max(last, position)
        value = xml_value(child, field, here, errors)
        if value is None:
            continue
        if field.shape == SHAPE_SINGLETON:
            if name in obj:
                errors.append((here, f"{name!r} does not repeat"))
            obj[name] = value
        else:
            obj.setdefault(name, []).append(value)


def xml_value(child, field, loc, errors):
    t = field_type(field)
    prim = primitive_name(t)
    if prim is not None:
        if len(child):
            errors.append((loc, "extensions on primitives are not expected here"))
        text = child.get("value")
        if text is None:
            errors.append((loc, "a primitive element without a value attribute"))
            return None
        if prim == "boolean":
            if text not in ("true", "false"):
                errors.append((loc, f"boolean {text!r}"))
            return text == "true"
        if prim in ("integer", "unsignedInt", "positiveInt"):
            try:
                return int(text)
            except ValueError:
                errors.append((loc, f"integer {text!r}"))
                return text
        if prim == "decimal":
            try:
                return decimal.Decimal(text)
            except decimal.InvalidOperation:
                errors.append((loc, f"decimal {text!r}"))
                return text
        return text
    if child.get("value") is not None:
        errors.append((loc, "a value attribute on a complex element"))
    if t is fhirtypes.ResourceType:
        inner = [e for e in child if isinstance(e.tag, str)]
        if len(inner) != 1:
            errors.append((loc, "an embedded resource element holds exactly one resource"))
            return None
        return xml_resource(inner[0], loc, errors)
    cls = get_fhir_model_class(t.__resource_type__)
    obj = {}
    xml_children_into(obj, child, cls, loc, errors)
    return obj


def to_plain_json(value):
    """Decimals as JSON numbers, for --print-json."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: to_plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain_json(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Model metadata helpers


def resource_class(resource_type):
    """Model class for a resource type name, or None if it is not an R4 resource."""
    if not isinstance(resource_type, str):
        return None
    try:
        cls = get_fhir_model_class(resource_type)
    except KeyError:
        return None
    return cls if issubclass(cls, Resource) else None


def field_type(field):
    """The element type of a model field, with Optional[...] unwrapped."""
    t = field.type_
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if args else t


def primitive_name(t):
    """FHIR primitive type name of a field type, or None for complex types."""
    if t is bool:
        return "boolean"
    if isinstance(t, type) and issubclass(t, fhirtypes.Primitive):
        return t.__visit_name__
    return None


def elements_by_json_name(cls):
    """JSON name -> pydantic field, for the elements a JSON object may carry."""
    cache = elements_by_json_name.cache
    if cls not in cache:
        table = {}
        for f in cls.__fields__.values():
            is_ext = field_type(f) is fhirtypes.FHIRPrimitiveExtensionType
            # resource_type / fhir_comments are model internals, not R4 elements
            if f.field_info.extra.get("element_property") or is_ext:
                table[f.alias] = f
        cache[cls] = table
    return cache[cls]


elements_by_json_name.cache = {}


# --------------------------------------------------------------------------
# JSON-level checks (pass 2)


def check_object(obj, cls, loc, errors):
    """Check one JSON object against model class `cls`, appending to errors."""
    if not obj:
        errors.append((loc, "empty object is not allowed"))
        return
    elements = elements_by_json_name(cls)
    is_resource = issubclass(cls, Resource)
    for key, value in obj.items():
        if key == "resourceType":
            if not is_resource:
                errors.append((loc + (key,), "resourceType is only allowed on a resource"))
            continue
        field = elements.get(key)
        if field is None:
            # the models already reject most unknown names; these two slip through
            if key in ("resource_type", "fhir_comments"):
                errors.append((loc + (key,), "extra fields not permitted"))
            continue
        check_element(value, field, loc + (key,), errors)
        if isinstance(value, list) and None in value and allows_placeholders(field):
            check_placeholders(obj, key, loc, errors)

    for f in cls.__fields__.values():
        if f.field_info.extra.get("element_required") and f.alias not in obj and "_" + f.alias not in obj:
            errors.append((loc + (f.alias,), "field required"))

    if cls.__name__ == "Narrative" and isinstance(obj.get("div"), str):
        check_xhtml_div(obj["div"], loc + ("div",), errors)


def check_element(value, field, loc, errors):
    """Check the JSON value of one element (single or repeating)."""
    if value is None:
        errors.append((loc, "null is not allowed; omit the element instead"))
        return
    t = field_type(field)
    if field.shape == SHAPE_SINGLETON:
        if not isinstance(value, list):  # wrong shape is reported by the models
            check_value(value, t, field, loc, errors)
        return
    if not isinstance(value, list):
        return
    if not value:
        errors.append((loc, "empty array is not allowed; omit the element instead"))
        return
    placeholder_ok = allows_placeholders(field)
    for i, item in enumerate(value):
        if item is None:
            if not placeholder_ok:
                errors.append((loc + (i,), "null is not allowed in this array"))
        else:
            check_value(item, t, field, loc + (i,), errors)


def allows_placeholders(field):
    """Primitive arrays and their "_element" twins may hold null placeholders."""
    t = field_type(field)
    return primitive_name(t) is not None or t is fhirtypes.FHIRPrimitiveExtensionType


def check_placeholders(obj, key, loc, errors):
    """A null in a primitive array (e.g. "given") must be matched by a value at
    the same index of its twin ("_given"), and vice versa."""
    twin = key[1:] if key.startswith("_") else "_" + key
    other = obj.get(twin)
    for i, item in enumerate(obj[key]):
        if item is None and not (isinstance(other, list) and i < len(other) and other[i] is not None):
            errors.append((loc + (key, i), f"null is only allowed when {twin}[{i}] has a value"))


def check_value(value, t, field, loc, errors):
    """Check one non-null value of type `t`."""
    prim = primitive_name(t)
    if prim is not None:
        check_primitive(value, prim, t, field, loc, errors)
        return
    if not isinstance(value, dict):
        errors.append((loc, "a JSON object is expected"))
        return
    if t is fhirtypes.ResourceType:
        # an embedded resource (Bundle.entry.resource, contained, ...)
        rtype = value.get("resourceType")
        cls = resource_class(rtype)
        if cls is None:
            what = f"unknown R4 resourceType {rtype!r}" if rtype is not None else "missing resourceType"
            errors.append((loc + ("resourceType",), what))
            return
    else:
        cls = get_fhir_model_class(t.__resource_type__)
    check_object(value, cls, loc, errors)


def check_primitive(value, prim, t, field, loc, errors):
    """JSON kind, emptiness, full format and required binding of a primitive."""
    if prim == "boolean":
        if not isinstance(value, bool):
            errors.append((loc, f"boolean expected (true/false), got JSON {json_kind(value)} {show(value)}"))
        return
    if prim in NUMBER_TYPES:
        if prim == "decimal":
            ok = isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool)
            want = "a JSON number"
        else:  # 3.0 or 3e0 is not a valid FHIR integer
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "a JSON integer (no fraction or exponent)"
        if not ok:
            errors.append((loc, f"{prim} expected as {want}, got JSON {json_kind(value)} {show(value)}"))
        return
    if not isinstance(value, str):
        errors.append((loc, f"{prim} expected as a JSON string, got JSON {json_kind(value)} {show(value)}"))
        return
    if value == "":
        errors.append((loc, "empty string is not allowed"))
        return
    regex = getattr(t, "regex", None)
    if prim in FULLMATCH_TYPES and isinstance(regex, re.Pattern) and not regex.fullmatch(value):
        errors.append((loc, f"{value!r} is not a valid {prim}"))
    allowed = bound_codes(field)
    if allowed and value not in allowed:
        errors.append((loc, f"{value!r} is not in the required value set {allowed}"))


def bound_codes(field):
    """The complete list of codes allowed for a code element, or None.

    fhir.resources derives "enum_values" from the element's short description
    ("active | suspended | inactive"), which FHIR writes for required
    bindings.  A trailing "+" means the list is abridged, and a title that does
    not start with the list (CapabilityStatement.format) is prose, not codes:
    both are skipped so that valid codes are never rejected.
    """
    codes = field.field_info.extra.get("enum_values")
    title = (field.field_info.title or "").strip()
    if not codes or "+" in codes or not title.startswith(" | ".join(codes)):
        return None
    return codes


def check_xhtml_div(text, loc, errors):
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        errors.append((loc, f"narrative is not well-formed XHTML: {exc}"))
        return
    if root.tag != XHTML_DIV:
        errors.append((loc, 'narrative must be a <div xmlns="http://www.w3.org/1999/xhtml">'))


def show(value):
    """Short JSON-like rendering of a value for messages."""
    text = str(value) if isinstance(value, decimal.Decimal) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def json_kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, decimal.Decimal, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


# --------------------------------------------------------------------------
# Validating one resource


def validate_resource(obj):
    """Return a list of (loc, message, error type); empty means valid."""
    if not isinstance(obj, dict):
        return [((), f"a resource must be a JSON object, got JSON {json_kind(obj)}", "fhir_json")]
    rtype = obj.get("resourceType")
    cls = resource_class(rtype)
    if cls is None:
        what = f"unknown R4 resourceType {rtype!r}" if rtype is not None else "missing resourceType"
        return [(("resourceType",), what, "fhir_json")]

    structural = []
    check_object(obj, cls, (), structural)

    errors = []  # (loc, message, error type)
    try:
        cls.parse_obj(obj)  # pass 1: the R4 models
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p != "__root__")
            errors.append((loc, err["msg"], err["type"]))
    except Exception as exc:  # e.g. LookupError for an unknown nested resourceType
        if not structural:
            errors.append(((), f"fhir.resources raised {type(exc).__name__}: {exc}", "model"))

    # pass 2 findings, minus those at a location the models already reported
    seen = {loc for loc, _, _ in errors}
    errors += [(loc, msg, "fhir_json") for loc, msg in structural if loc not in seen]
    return errors


def format_loc(loc):
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(resource)"


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if fhir.resources.__fhir_version__ != EXPECTED_FHIR_VERSION:
        print(
            f"fhir-validate: fhir.resources models FHIR {fhir.resources.__fhir_version__}, "
            f"expected {EXPECTED_FHIR_VERSION}; re-run ensure.sh",
            file=sys.stderr,
        )
        return 3

    print_json = argv[0] == "--print-json"
    if print_json:
        argv = argv[1:]
    documents = []
    xml_errors = []
    from_xml = []
    try:
        for path in argv:
            if path.endswith(".xml"):
                errors = []
                resources = load_xml_documents(path, errors)
                xml_errors += [(path, loc, msg) for loc, msg in errors]
                from_xml += resources
                documents.append((path, resources))
            else:
                documents.append((path, load_document(path)))
    except BadInput as exc:
        print(f"fhir-validate: {exc}", file=sys.stderr)
        return 2
    for path, loc, msg in xml_errors:
        print(f"FAIL {path} (XML) {format_loc(loc)}: {msg}")
    if print_json:
        print(json.dumps(to_plain_json(from_xml), ensure_ascii=False))

    total = invalid = empty = 0
    for path, doc in documents:
        resources = doc if isinstance(doc, list) else [doc]
        if not resources:
            # an empty array is most likely a test mistake: fail loudly
            print(f"FAIL {path}: empty array, no resources to validate")
            empty += 1
        for index, res in enumerate(resources):
            total += 1
            errors = validate_resource(res)
            if not errors:
                continue
            invalid += 1
            rtype = res.get("resourceType") if isinstance(res, dict) else None
            rid = res.get("id") if isinstance(res, dict) else None
            print(f"FAIL {path} [{index}] resourceType={rtype} id={rid}: {len(errors)} error(s)")
            for loc, msg, kind in errors:
                print(f"  {format_loc(loc)}: {msg} [{kind}]")

    if invalid or empty or xml_errors:
        print(f"invalid: {invalid} of {total} resource(s) failed validation")
        return 1
    print(f"ok: {total} resource(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
