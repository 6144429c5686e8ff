"""The demo's departments, service items, orders, vendors and accounts (DOMAIN.md)."""

from __future__ import annotations

DEPARTMENTS = [
    ("market-regulation", "市场监督管理局", "Administration for Market Regulation"),
    ("public-security", "公安局", "Public Security Bureau"),
    ("social-security", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("health", "卫生健康委员会", "Health Commission"),
    ("fire", "消防救援支队", "Fire and Rescue Detachment"),
    ("tax", "税务局", "Tax Bureau"),
]

M = lambda name, required=True, note="": {"name": name, "required": required, "note": note}  # noqa: E731

ITEMS = [
    ("market-regulation", "enterprise-name", "企业名称自主申报", "Enterprise name self-declaration", 1, 0, 0,
     [M("名称申报承诺书 Name declaration")]),
    ("market-regulation", "business-licence", "营业执照设立登记", "Business licence registration", 3, 0, 0,
     [M("公司登记申请书 Registration application"), M("公司章程 Articles of association"),
      M("法定代表人身份证明 Legal representative ID")]),
    ("market-regulation", "food-licence", "食品经营许可证核发", "Food business licence", 10, 0, 0,
     [M("食品经营许可申请书 Application form"), M("营业执照 Business licence"),
      M("法定代表人身份证 Legal representative ID"), M("经营场所平面图 Premises floor plan"),
      M("食品安全管理制度 Food safety rules", note="可事后补交 may follow later", required=False)]),
    ("public-security", "household-transfer", "户口迁移", "Household registration transfer", 5, 1, 0,
     [M("居民户口簿 Household register"), M("居民身份证 Resident ID card")]),
    ("public-security", "id-card-renewal", "居民身份证换领", "Resident ID card renewal", 30, 1, 2000,
     [M("原居民身份证 Old ID card"), M("近期照片 Recent photo", required=False)]),
    ("public-security", "newborn-registration", "新生儿入户", "Newborn household registration", 5, 0, 0,
     [M("出生医学证明 Birth certificate"), M("父母户口簿 Parents' household register")]),
    ("social-security", "insurance-registration", "社保参保登记", "Social insurance registration", 5, 0, 0,
     [M("居民身份证 Resident ID card")]),
    ("social-security", "social-security-card", "社保卡申领", "Social security card application", 15, 0, 0,
     [M("居民身份证 Resident ID card"), M("近期照片 Recent photo"),
      M("监护人身份证 Guardian's ID (minors)", required=False)]),
    ("health", "birth-certificate", "出生医学证明", "Medical birth certificate", 1, 1, 0,
     [M("父母身份证 Parents' ID cards")]),
    ("fire", "fire-safety-check", "公众聚集场所投入使用前消防安全检查", "Fire safety check before opening", 10, 1, 0,
     [M("消防安全检查申报表 Declaration form"), M("营业执照 Business licence")]),
    ("tax", "new-taxpayer", "新办纳税人套餐", "New taxpayer package", 1, 0, 0,
     [M("营业执照 Business licence"), M("法定代表人身份证 Legal representative ID")]),
]

# Two orders the demo opens; their contracts (with the scopes they grant under x-govapp) and suites are the
# sample files in examples/, so the sample apps and the orders can never disagree.
ORDERS = [
    {"slug": "food-licence", "item": "food-licence", "title": "食品经营许可证核发 · 在线申请应用",
     "description": "An app that lets a business's legal representative apply for a food business licence, "
                    "pre-filled from e-licences, with clear refusals.",
     "fee_per_transaction_fen": 200, "quarterly_budget_fen": 5_000_000},
    {"slug": "social-security-card", "item": "social-security-card", "title": "社保卡申领 · 在线申请应用",
     "description": "An app for applying for a social security card, including minors through a guardian.",
     "fee_per_transaction_fen": 150, "quarterly_budget_fen": 3_000_000},
]

# Credit codes carry a valid GB 32100 check character.
VENDORS = [
    ("swift", "迅捷政务科技有限公司 Swift GovTech", "91310000MA1FL0000"),
    ("steady", "稳健软件股份有限公司 Steady Software", "91110000MA01Q0000"),
    ("hasty", "匆忙数码有限公司 Hasty Digital", "91440300MA5D00000"),
]

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (printed by `make run` on purpose: demo only)
