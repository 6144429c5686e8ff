"""The demo's departments, service items, orders, vendors and accounts (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass

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

# The six fictional vendors of examples/README.md, one developer account each (dev@<key>.example.cn).
# (key, registered name, the first 17 characters of the credit code; the GB 32100 check character is computed.)
VENDORS = [
    ("haichuan", "海川数智科技有限公司 Haichuan Digital", "91310115MA1H7K2Q3"),
    ("yunling", "云岭软件股份有限公司 Yunling Software", "91530100MA6P4R8L1"),
    ("kuaima", "快码科技有限公司 Kuaima Tech", "91440300MA5G2X9T4"),
    ("minshengyun", "民生云信息技术有限公司 Minshengyun", "91110108MA01W3N6K"),
    ("shulian", "数联信息技术有限公司 Shulian Information", "91320100MA1Y8D5C7"),
    ("jietong", "捷通网络科技有限公司 Jietong Network", "91330106MA2H6B3F8"),
]


@dataclass(frozen=True)
class SampleApp:
    """One of the sample apps in examples/, as its vendor enters it for an order, and how citizens take to it."""

    folder: str  # examples/<folder>; also the app's slug, so it is served at <folder>.apps.<host>
    name: str
    vendor: str  # key in VENDORS
    order: str  # slug in ORDERS
    summary: str
    passes: bool  # what examples/README.md says `govapp test` gives on the full suite
    share: float  # of its order's citizens who choose it (the fast correct app is chosen more)
    stars: tuple[int, int, int, int, int]  # weights of 1..5 stars its users give
    minutes: tuple[int, int]  # how long a case takes from opening the app to the department's decision
    rated: float  # share of completed cases whose citizen rates


SAMPLE_APPS = [
    SampleApp("food-shiantong", "食安通", "haichuan", "food-licence",
              "从电子证照自动带出经营场所与营业执照，几分钟办完食品经营许可。Pre-fills premises from e-licences.",
              True, 0.62, (1, 1, 4, 24, 70), (3, 8), 0.75),
    SampleApp("food-canzheng", "餐证快办", "yunling", "food-licence",
              "稳妥可靠的食品经营许可申请。A careful, thorough food licence application.",
              True, 0.38, (3, 6, 18, 43, 30), (7, 16), 0.65),
    SampleApp("food-yishi", "易食证", "kuaima", "food-licence",
              "最快的食品经营许可申请。The quickest way to a food licence.",
              False, 0, (1, 1, 1, 1, 1), (1, 1), 0),
    SampleApp("ssc-kabao", "卡宝", "minshengyun", "social-security-card",
              "社保卡申领，监护人可为孩子代办。Social-security cards, guardians apply for their children.",
              True, 0.6, (1, 2, 6, 28, 63), (2, 6), 0.7),
    SampleApp("ssc-shebaotong", "社保通", "shulian", "social-security-card",
              "社保卡一站申领。Social-security cards in one place.",
              True, 0.4, (4, 7, 20, 40, 29), (6, 14), 0.6),
    SampleApp("ssc-kuaiban", "快办卡", "jietong", "social-security-card",
              "一分钟申领社保卡。A social-security card in a minute.",
              False, 0, (1, 1, 1, 1, 1), (1, 1), 0),
]

# What citizens write, by how they felt (stars) and whether the app kept them waiting.
COMMENTS = {
    "good_fast": [
        "自动带出了营业执照信息，几分钟就提交好了。", "不用跑窗口，手机上就办完了，点赞！", "流程清楚，每一步都有提示。",
        "材料清单一目了然，一次就通过了。", "比去大厅快多了。", "Quick and clear, finished on my phone in minutes.",
        "字大清楚，老人也会用。", "进度随时能查，很放心。",
    ],
    "good_slow": [
        "能办成，就是每一步都要等一会儿。", "结果没问题，页面加载有点慢。", "办下来了，希望速度再快一点。",
        "Works, but every step takes a while to load.", "信息都对，就是提交时转了很久。",
    ],
    "mixed": [
        "还行，有些字段要自己重复填。", "说明可以再写清楚些。", "第一次没看懂要上传什么材料。", "一般，能用。",
    ],
    "bad": [
        "等了好久页面都没反应，最后还是去了窗口。", "提示不清楚，被退回了也不知道为什么。", "太慢了，体验很差。",
        "Kept spinning; I gave up twice before it went through.",
    ],
}

# Ratings whose comment the vendor reports as abusive or off-topic, and what the moderator then decides.
FLAGGED_COMMENTS = [
    ("垃圾应用，开发商全是骗子！！！加我微信领红包", "spam and insults, not about the service", "hide"),
    ("我是来打广告的：代办各类证照，价格优惠", "advertising, not a rating of this case", "hide"),
    ("太慢了，等了二十分钟，差评。", "the vendor thinks this rating is unfair", "resolve"),
    ("和窗口办的一样，没什么特别。", "the vendor thinks this is not about the app", None),  # still under review
]

COMPLAINTS = [
    # (theme, the citizen's description, the answer, the public outcome, outcome, days to answer)
    ("slow", "提交申请时页面卡了十几分钟，重复提交担心会被受理两次。",
     "我们排查到高峰期部门接口排队导致等待过长，已增加超时提示并确认您的申请只受理了一次。",
     "高峰期等待过长：已优化提示，确认无重复受理。", "resolved", 2),
    ("wrong_decision", "我的营业执照明明有效，却被告知执照已过期。",
     "经核实，部门登记的营业执照有效期至申请日前，请先办理营业执照延续后再申请。",
     "经核实为执照确已过期，退回理由无误。", "rejected", 3),
    ("usability", "上传材料的按钮在手机上找不到。",
     "感谢反馈，新版本已将上传按钮固定在页面底部。", "移动端上传按钮位置已调整。", "resolved", 4),
    ("accessibility", "读屏软件读不出表单的标签，我需要家人帮忙才能填完。",
     "已为所有表单字段补充无障碍标签，并请视障用户测试通过。", "表单已补充无障碍标签。", "resolved", 8),
    ("data_privacy", "为什么申请社保卡要读取我的手机号？",
     "手机号仅用于制卡进度短信通知，您可在“我的数据”中撤回授权。", "说明了手机号的用途，可随时撤回授权。",
     "resolved", 1),
]

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (printed by `make run` on purpose: demo only)
