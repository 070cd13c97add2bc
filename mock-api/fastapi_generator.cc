#include "mock-api/fastapi_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/commit_hash.h"

namespace bim::mock {
namespace {

constexpr size_t kMaxResources = 5;

// Words that describe the request rather than the data ("a REST API for users").
const std::set<std::string>& StopWords() {
  static const std::set<std::string> kWords = {
      "a",       "about",  "add",      "all",        "allow",   "allows",      "an",
      "and",     "any",    "api",      "apis",       "app",     "application", "applications",
      "are",     "as",     "at",       "backend",    "basic",   "be",          "build",
      "by",      "can",    "create",   "creates",    "crud",    "data",        "database",
      "db",      "delete", "endpoint", "endpoints",  "fastapi", "for",         "from",
      "full",    "get",    "handle",   "handles",    "has",     "have",        "i",
      "in",      "into",   "is",       "it",         "its",     "json",        "let",
      "list",    "make",   "manage",   "management", "manager", "me",          "microservice",
      "model",   "models", "my",       "need",       "new",     "of",          "on",
      "or",      "our",    "please",   "postgres",   "python",  "read",        "rest",
      "restful", "sample", "schema",   "server",     "service", "services",    "simple",
      "small",   "some",   "sql",      "sqlite",     "store",   "support",     "supports",
      "system",  "table",  "tables",   "that",       "the",     "their",       "them",
      "this",    "to",     "track",    "tracking",   "update",  "using",       "want",
      "web",     "which",  "with",     "write",
  };
  return kWords;
}

// Python keywords and names the generated modules already use: a resource called one of
// these gets a suffix so the code still compiles and means what it says.
const std::set<std::string>& ReservedNames() {
  // clang-format off
  static const std::set<std::string> kNames = {
      "false", "none", "true", "and", "as", "assert", "async", "await", "break", "class",
      "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
      "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
      "try", "while", "with", "yield", "match", "case", "base", "column", "integer", "string",
      "text", "datetime", "float", "boolean", "func", "session", "optional", "basemodel",
      "configdict", "compat", "fields_of", "row", "response", "router", "models", "schemas", "database", "main", "app", "status", "depends",
      "httpexception", "apirouter", "fastapi", "typing", "engine", "payload", "db", "skip",
      "limit", "self", "type", "id", "int", "str", "bool", "dict", "bytes", "object", "record"};
  // clang-format on
  return kNames;
}

struct Field {
  std::string name;
  std::string sa_type;  // SQLAlchemy column type
  std::string py_type;  // Pydantic annotation
  std::string sql_type;
};

// Fields that make a known resource look like itself; anything else gets name/description.
std::vector<Field> FieldsFor(const std::string& resource) {
  const Field name{"name", "String(255)", "str", "VARCHAR(255)"};
  const Field title{"title", "String(255)", "str", "VARCHAR(255)"};
  const Field body{"body", "Text", "str", "TEXT"};
  if (resource == "user" || resource == "customer" || resource == "author" ||
      resource == "member" || resource == "employee") {
    return {name, {"email", "String(255)", "str", "VARCHAR(255)"}};
  }
  if (resource == "product" || resource == "book" || resource == "menu") {
    return {name, {"price", "Float", "float", "REAL"}};
  }
  if (resource == "order" || resource == "invoice" || resource == "payment") {
    return {{"customer_name", "String(255)", "str", "VARCHAR(255)"},
            {"total", "Float", "float", "REAL"},
            {"state", "String(32)", "str", "VARCHAR(32)"}};
  }
  if (resource == "post" || resource == "article" || resource == "note" || resource == "message") {
    return {title, body};
  }
  if (resource == "comment" || resource == "review") return {body};
  if (resource == "task" || resource == "todo") {
    return {title, {"done", "Boolean", "bool", "BOOLEAN"}};
  }
  return {name, {"description", "Text", "str", "TEXT"}};
}

std::string Singular(const std::string& w) {
  auto ends = [&](const char* s) {
    std::string suf(s);
    return w.size() > suf.size() && w.compare(w.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends("ies") && w.size() > 4) return w.substr(0, w.size() - 3) + "y";
  if (ends("sses") || ends("xes") || ends("ches") || ends("shes") || ends("zzes")) {
    return w.substr(0, w.size() - 2);
  }
  if (ends("ss") || ends("us") || ends("is")) return w;
  if (ends("s") && w.size() > 3) return w.substr(0, w.size() - 1);
  return w;
}

std::string Plural(const std::string& w) {
  auto ends = [&](const std::string& suf) {
    return w.size() >= suf.size() && w.compare(w.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends("y") && w.size() > 1 &&
      std::string("aeiou").find(w[w.size() - 2]) == std::string::npos) {
    return w.substr(0, w.size() - 1) + "ies";
  }
  if (ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh")) return w + "es";
  return w + "s";
}

std::string Camel(const std::string& snake) {
  std::string out;
  bool up = true;
  for (char c : snake) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

// The prompt as one line of printable ASCII, safe inside a Python comment or a README.
std::string OneLine(const std::string& prompt) {
  std::string out;
  for (unsigned char c : prompt) {
    if (out.size() >= 200) break;
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c >= 0x80 && (out.empty() || out.back() != '?')) {
      out += '?';
    }
  }
  auto first = out.find_first_not_of(' ');
  auto last = out.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

std::string Trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string MainPy(const std::string& prompt, const std::vector<std::string>& resources) {
  std::string imports, includes, names;
  for (const auto& r : resources) {
    imports += (imports.empty() ? "" : ", ") + r;
    includes += fmt::format("app.include_router({}.router)\n", r);
    names += fmt::format("{}\"/{}\"", names.empty() ? "" : ", ", Plural(r));
  }
  return fmt::format(R"(# Generated by backend-im-mock from the prompt: {prompt}
from fastapi import FastAPI

from app.database import Base, engine
from app.routers import {imports}

Base.metadata.create_all(bind=engine)

app = FastAPI(title="Generated API", version="0.1.0")

{includes}

@app.get("/")
def read_root():
    return {{"message": "Hello from Backend.im", "resources": [{names}]}}


@app.get("/health")
def health():
    return {{"status": "ok"}}
)",
                     fmt::arg("prompt", OneLine(prompt)), fmt::arg("imports", imports),
                     fmt::arg("includes", includes), fmt::arg("names", names));
}

const char* kDatabasePy = R"(import os

from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./app.db")

connect_args = {"check_same_thread": False} if DATABASE_URL.startswith("sqlite") else {}
engine = create_engine(DATABASE_URL, connect_args=connect_args)
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
Base = declarative_base()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
)";

std::string ModelsPy(const std::vector<std::string>& resources) {
  std::string out =
      "from sqlalchemy import Boolean, Column, DateTime, Float, Integer, String, Text, func\n\n"
      "from app.database import Base\n";
  for (const auto& r : resources) {
    out += fmt::format("\n\nclass {}(Base):\n    __tablename__ = \"{}\"\n\n", Camel(r), Plural(r));
    out += "    id = Column(Integer, primary_key=True, index=True)\n";
    for (const auto& f : FieldsFor(r)) {
      out += fmt::format("    {} = Column({}, nullable=False)\n", f.name, f.sa_type);
    }
    out += "    created_at = Column(DateTime(timezone=True), server_default=func.now())\n";
  }
  return out;
}

std::string SchemasPy(const std::vector<std::string>& resources) {
  // Plain models, with no ORM mode: the routers hand them dicts (app/compat.py), which both
  // pydantic 1 (Debian 12) and pydantic 2 validate the same way.
  std::string out =
      "from datetime import datetime\nfrom typing import Optional\n\n"
      "from pydantic import BaseModel\n";
  for (const auto& r : resources) {
    std::string c = Camel(r);
    out += fmt::format("\n\nclass {}Base(BaseModel):\n", c);
    for (const auto& f : FieldsFor(r)) out += fmt::format("    {}: {}\n", f.name, f.py_type);
    out += fmt::format("\n\nclass {0}Create({0}Base):\n    pass\n", c);
    out += fmt::format("\n\nclass {}Update(BaseModel):\n", c);
    for (const auto& f : FieldsFor(r)) {
      out += fmt::format("    {}: Optional[{}] = None\n", f.name, f.py_type);
    }
    out += fmt::format(
        "\n\nclass {0}({0}Base):\n    id: int\n    created_at: Optional[datetime] = None\n", c);
  }
  return out;
}

// What differs between pydantic 1 and 2, in one place.
const char* kCompatPy =
    R"("""The few calls that differ between pydantic 1 and 2, and a row as a dict."""


def fields_of(model, exclude_unset=False):
    """The fields of a pydantic model as a dict (model_dump in pydantic 2, dict in 1)."""
    dump = getattr(model, "model_dump", None) or model.dict
    return dump(exclude_unset=exclude_unset)


def row(record):
    """A SQLAlchemy row as a dict of its columns, for a response model to validate."""
    return {column.name: getattr(record, column.name) for column in record.__table__.columns}
)";

std::string RouterPy(const std::string& r) {
  return fmt::format(R"(from typing import List

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy.orm import Session

from app import models, schemas
from app.compat import fields_of, row
from app.database import get_db

router = APIRouter(prefix="/{plural}", tags=["{plural}"])


def find_{name}(db: Session, {name}_id: int):
    record = db.get(models.{cls}, {name}_id)
    if record is None:
        raise HTTPException(status_code=404, detail="{cls} not found")
    return record


@router.get("/", response_model=List[schemas.{cls}])
def list_{plural}(skip: int = 0, limit: int = 100, db: Session = Depends(get_db)):
    return [row(r) for r in db.query(models.{cls}).offset(skip).limit(limit).all()]


@router.post("/", response_model=schemas.{cls}, status_code=status.HTTP_201_CREATED)
def create_{name}(payload: schemas.{cls}Create, db: Session = Depends(get_db)):
    record = models.{cls}(**fields_of(payload))
    db.add(record)
    db.commit()
    db.refresh(record)
    return row(record)


@router.get("/{{{name}_id}}", response_model=schemas.{cls})
def get_{name}({name}_id: int, db: Session = Depends(get_db)):
    return row(find_{name}(db, {name}_id))


@router.put("/{{{name}_id}}", response_model=schemas.{cls})
def update_{name}({name}_id: int, payload: schemas.{cls}Update, db: Session = Depends(get_db)):
    record = find_{name}(db, {name}_id)
    for key, value in fields_of(payload, exclude_unset=True).items():
        setattr(record, key, value)
    db.commit()
    db.refresh(record)
    return row(record)


@router.delete("/{{{name}_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_{name}({name}_id: int, db: Session = Depends(get_db)):
    db.delete(find_{name}(db, {name}_id))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
)",
                     fmt::arg("plural", Plural(r)), fmt::arg("name", r), fmt::arg("cls", Camel(r)));
}

std::string SchemaSql(const std::string& prompt, const std::vector<std::string>& resources) {
  std::string out = "-- Generated by backend-im-mock from the prompt: " + OneLine(prompt) + "\n";
  for (const auto& r : resources) {
    out +=
        fmt::format("\nCREATE TABLE IF NOT EXISTS {} (\n    id INTEGER PRIMARY KEY,\n", Plural(r));
    for (const auto& f : FieldsFor(r)) {
      out += fmt::format("    {} {} NOT NULL,\n", f.name, f.sql_type);
    }
    out += "    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n);\n";
  }
  return out;
}

std::string ReadmeMd(const std::string& prompt, const std::vector<std::string>& resources) {
  std::string endpoints;
  for (const auto& r : resources) {
    std::string p = Plural(r);
    endpoints += fmt::format(
        "- `GET /{0}/`, `POST /{0}/`, `GET /{0}/{{id}}`, `PUT /{0}/{{id}}`, "
        "`DELETE /{0}/{{id}}`\n",
        p);
  }
  return fmt::format(
      "# Generated API\n\nGenerated by backend-im-mock from the prompt:\n\n> {}\n\n"
      "## Endpoints\n\n{}\n"
      "## Run locally\n\n```sh\nbackend-im dev\n```\n\nor, in a virtualenv of your own: `pip "
      "install -r requirements.txt`, then "
      "`uvicorn main:app --reload`.\n\n"
      "Set `DATABASE_URL` to use a database other than the local SQLite file; `schema.sql` "
      "holds the same tables as plain SQL.\n",
      OneLine(prompt), endpoints);
}

}  // namespace

std::vector<std::string> FastApiGenerator::ResourceNames(const std::string& prompt) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    std::string w = std::move(word);
    word.clear();
    if (out.size() >= kMaxResources) return;
    if (!std::isalpha(static_cast<unsigned char>(w[0])) || w.size() < 2 || w.size() > 40) return;
    if (StopWords().count(w)) return;
    w = Singular(w);
    if (StopWords().count(w)) return;
    if (ReservedNames().count(w)) w += "_record";
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  };
  for (unsigned char c : prompt) {
    if (std::isalnum(c) && c < 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (c == '_' && !word.empty()) {
      word += '_';
    } else {
      flush();
    }
  }
  flush();
  for (auto& w : out) {
    while (!w.empty() && w.back() == '_') w.pop_back();
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  if (out.empty()) out.push_back("item");
  return out;
}

contract::FileMap FastApiGenerator::Generate(const std::string& prompt) {
  auto resources = ResourceNames(prompt);
  contract::FileMap files;
  files["main.py"] = MainPy(prompt, resources);
  files["app/__init__.py"] = "";
  files["app/compat.py"] = kCompatPy;
  files["app/database.py"] = kDatabasePy;
  files["app/models.py"] = ModelsPy(resources);
  files["app/schemas.py"] = SchemasPy(resources);
  files["app/routers/__init__.py"] = "";
  for (const auto& r : resources) files["app/routers/" + r + ".py"] = RouterPy(r);
  files["requirements.txt"] =
      // Ranges that Debian 12's packages (fastapi 0.92, uvicorn 0.17, SQLAlchemy 1.4, pydantic
      // 1.10) and current releases both satisfy; the code uses no call that differs between them
      // outside app/compat.py.
      "fastapi>=0.92,<1\nuvicorn>=0.17,<1\nsqlalchemy>=1.4,<3\npydantic>=1.10,<3\n";
  files["schema.sql"] = SchemaSql(prompt, resources);
  files["README.md"] = ReadmeMd(prompt, resources);
  return files;
}

std::string FastApiGenerator::ProjectId(const std::string& prompt) {
  return "proj-" + Sha256Hex(Trim(prompt)).substr(0, 8);
}

}  // namespace bim::mock
