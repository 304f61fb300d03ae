/*
 * notice.c - the customer data notice (see notice.h).
 *
 * One writer walks the sections in order; each language is a table of the
 * same phrases, so the two notices cannot differ in structure. The lists in
 * the notice (columns kept, identifier kinds dropped, identifier column
 * names) come from importer.c's arrays: a column added there shows up here,
 * and an identifier kind is named only if the importer recognises it.
 */
#include "notice.h"

#include <stdbool.h>
#include <inttypes.h>
#include <string.h>

#include "base/util.h"
#include "importer.h"

typedef struct phrases {
    const char *title;       /* %s store */
    const char *h_who, *who; /* %s store, %s aggregator */
    const char *h_collect, *collect;
    const char *column_item; /* %s plain words, %s column name */
    const char *h_discard, *discard, *recognised, *list_sep, *list_end;
    const char *h_pseudonym, *pseudonym;
    const char *h_purposes, *purposes;
    const char *h_retention, *retention_days, *retention_erased; /* %PRId64 */
    const char *h_security, *at_rest, *transport, *masked, *unmasked, *dp;
    const char *h_rights, *rights_intro;
    const char *access, *erasure, *withdrawal, *objection; /* %s command */
    const char *h_contact, *contact;
} phrases;

enum { EN, ZH, N_LANG };

static const char *const lang_codes[N_LANG] = {"en", "zh-TW"};

/* Plain words for the columns the importer keeps. */
static const struct {
    const char *column;
    const char *words[N_LANG];
} column_words[] = {
    {"member_id", {"member number", "會員編號"}},
    {"item_id", {"item bought", "購買的商品"}},
    {"timestamp", {"time of purchase", "購買時間"}},
    {"quantity",
     {"quantity bought (if the export has it)", "購買數量（如匯出檔有提供）"}},
};

/* Identifier kinds, named when the importer recognises their column name. */
static const struct {
    const char *column;
    const char *words[N_LANG];
} kinds[] = {
    {"name", {"names", "姓名"}},
    {"email", {"e-mail addresses", "電子郵件地址"}},
    {"phone", {"phone numbers", "電話號碼"}},
    {"address", {"postal addresses", "地址"}},
    {"birth_date", {"birth dates", "出生日期"}},
    {"national_id", {"national ID numbers", "身分證字號"}},
    {"passport", {"passport numbers", "護照號碼"}},
    {"credit_card", {"payment card numbers", "信用卡卡號"}},
    {"iban", {"bank account numbers", "銀行帳號"}},
    {"ip_address", {"IP addresses", "IP 位址"}},
};

/* clang-format off */
static const phrases texts[N_LANG] = {
    [EN] = {
        .title = "# How %s uses your purchase data\n\n",
        .h_who = "## Who processes your data\n\n",
        .who = "%s processes your purchase records itself, on its own "
               "server in the store. The recommendation model is trained "
               "together with the chain's other stores (federated learning), "
               "coordinated by an aggregator (`%s`). The aggregator never "
               "receives purchase records or member numbers: only model "
               "updates leave the store.\n\n",
        .h_collect = "## What we collect\n\n",
        .collect = "When purchases are imported, only these columns are "
                   "kept:\n\n",
        .column_item = "- %s: `%s`\n",
        .h_discard = "## What we discard\n\n",
        .discard = "Every other column of the export is dropped as the file "
                   "is read and is never stored, in particular ",
        .recognised = "The importer recognises these column names as direct "
                      "identifiers and tells staff when it drops them: ",
        .list_sep = ", ",
        .list_end = ".\n\n",
        .h_pseudonym = "## How your member number is replaced "
                       "(pseudonymisation)\n\n",
        .pseudonym = "On import, your member number is at once replaced by a "
                     "keyed hash: a code computed with a secret key that only "
                     "this store holds. The raw member number is never "
                     "stored, and without the store's key the code cannot be "
                     "linked back to it.\n\n",
        .h_purposes = "## What we use it for\n\n",
        .purposes = "1. **Training**: your purchases help train the shared "
                    "recommendation model.\n"
                    "2. **Marketing**: you may receive recommendations or be "
                    "selected for campaigns.\n\n"
                    "Both are opt-in: your data is used for a purpose only if "
                    "you agreed to that purpose. You can withdraw either "
                    "consent at any time, with effect from the next training "
                    "round; rounds that have already taken place cannot be "
                    "undone.\n\n",
        .h_retention = "## How long we keep it\n\n",
        .retention_days = "Purchase records are kept for %" PRId64 " days "
                          "and then deleted.\n\n",
        .retention_erased = "Purchase records are kept until they are erased, "
                            "for example at your request (see below).\n\n",
        .h_security = "## How it is protected\n\n",
        .at_rest = "- Stored data is encrypted on the store's server "
                   "(encryption at rest).\n",
        .transport = "- The connection to the aggregator is encrypted.\n",
        .masked = "- Only masked model updates leave the store: the "
                  "aggregator can only add them up across stores and cannot "
                  "read any single store's update.\n",
        .unmasked = "- Model updates (numbers computed by training, not your "
                    "purchase records) are sent to the aggregator over that "
                    "encrypted connection.\n",
        .dp = "- The model is trained with differential privacy: calibrated "
              "random noise is added so that the shared model reveals very "
              "little about any single customer.\n",
        .h_rights = "## Your rights\n\n",
        .rights_intro = "Ask at the service desk and staff will run the "
                        "command shown for you (ID is your member "
                        "number).\n\n",
        .access = "- **Access**: get a copy of the data held about you: "
                  "`%s`\n",
        .erasure = "- **Erasure**: have your data deleted: `%s`\n",
        .withdrawal = "- **Withdrawal of consent**: for training, marketing "
                      "or both: `%s`\n",
        .objection = "- **Objection to marketing**: no more recommendations "
                     "or campaigns: `%s`\n",
        .h_contact = "## Contact\n\n",
        .contact = "For questions, or to use any of these rights, ask at the "
                   "store's service desk.\n",
    },
    [ZH] = {
        .title = "# %s 個人資料使用告知\n\n",
        .h_who = "## 誰處理您的資料\n\n",
        .who = "您的購買紀錄由 %s 在本店自己的伺服器上處理。商品推薦模型是與本"
               "連鎖體系的其他門市以「聯合學習」方式共同訓練，並由彙整伺服器"
               "（`%s`）協調。彙整伺服器不會收到任何購買紀錄或會員編號，離開本店"
               "的只有模型更新。\n\n",
        .h_collect = "## 我們蒐集的資料\n\n",
        .collect = "匯入購買資料時，只保留以下欄位：\n\n",
        .column_item = "- %s：`%s`\n",
        .h_discard = "## 匯入時捨棄的資料\n\n",
        .discard = "匯出檔中的其他欄位，都會在讀取時直接捨棄，不會儲存，"
                   "其中特別包括：",
        .recognised = "系統會依欄位名稱辨識下列直接識別個人的欄位，並在捨棄時"
                      "提醒店員：",
        .list_sep = "、",
        .list_end = "。\n\n",
        .h_pseudonym = "## 會員編號的假名化\n\n",
        .pseudonym = "匯入時，您的會員編號會立即以本店專屬的金鑰計算雜湊值"
                     "（keyed hash），換成一組代碼；系統不會儲存原始會員編號。"
                     "沒有本店的金鑰，這組代碼無法對應回您的會員編號。\n\n",
        .h_purposes = "## 使用目的\n\n",
        .purposes = "1. **模型訓練**：您的購買紀錄會協助訓練各門市共用的商品"
                    "推薦模型。\n"
                    "2. **行銷**：您可能會收到商品推薦，或被選為行銷活動的"
                    "對象。\n\n"
                    "兩項用途都須經您同意（選擇加入）才會進行。您可以隨時"
                    "撤回任一項同意，自下一輪訓練起生效；已完成的訓練輪次"
                    "無法撤銷。\n\n",
        .h_retention = "## 保存期間\n\n",
        .retention_days = "購買紀錄保存 %" PRId64 " 天，期滿後刪除。\n\n",
        .retention_erased = "購買紀錄會保存到被刪除為止，例如依您的要求刪除"
                            "（見下方）。\n\n",
        .h_security = "## 安全措施\n\n",
        .at_rest = "- 資料在本店伺服器上加密儲存。\n",
        .transport = "- 與彙整伺服器之間的連線經過加密。\n",
        .masked = "- 離開本店的只有經過遮罩的模型更新：彙整伺服器只能把各門市"
                  "的更新加總，無法讀取任何單一門市的更新。\n",
        .unmasked = "- 模型更新（訓練計算出的數值，不含您的購買紀錄）透過上述"
                    "加密連線傳送給彙整伺服器。\n",
        .dp = "- 模型以差分隱私方式訓練：加入經過校準的隨機雜訊，使共用模型"
              "幾乎不會透露任何單一顧客的資訊。\n",
        .h_rights = "## 您的權利\n\n",
        .rights_intro = "請至服務台提出，店員會為您執行下列指令（ID 為您的"
                        "會員編號）。\n\n",
        .access = "- **查閱**：取得本店保存的您的資料副本：`%s`\n",
        .erasure = "- **刪除**：刪除您的資料：`%s`\n",
        .withdrawal = "- **撤回同意**：撤回模型訓練、行銷或兩者的同意："
                      "`%s`\n",
        .objection = "- **拒絕行銷**：不再收到商品推薦或行銷活動：`%s`\n",
        .h_contact = "## 聯絡方式\n\n",
        .contact = "如有任何疑問，或要行使上述權利，請洽本店服務台。\n",
    },
};
/* clang-format on */

static const char *const cmd_access = "fedrec-client member export --member ID";
static const char *const cmd_erasure =
    "fedrec-client member forget --member ID";
static const char *const cmd_withdrawal =
    "fedrec-client consent withdraw --member ID --purpose training|marketing";
static const char *const cmd_objection =
    "fedrec-client consent withdraw --member ID --purpose marketing";

static bool
recognised(const char *column)
{
    for (size_t i = 0; import_identifier_names[i]; i++)
        if (!strcmp(import_identifier_names[i], column))
            return true;
    return false;
}

static void
write_collected(FILE *out, const phrases *p, int lang)
{
    fputs(p->h_collect, out);
    fputs(p->collect, out);
    for (size_t i = 0; import_kept_columns[i]; i++) {
        const char *col = import_kept_columns[i], *words = col;

        for (size_t k = 0; k < FR_ARRAY_LEN(column_words); k++)
            if (!strcmp(column_words[k].column, col))
                words = column_words[k].words[lang];
        fprintf(out, p->column_item, words, col);
    }
    fputs("\n", out);
}

static void
write_discarded(FILE *out, const phrases *p, int lang)
{
    const char *sep = "";

    fputs(p->h_discard, out);
    fputs(p->discard, out);
    for (size_t k = 0; k < FR_ARRAY_LEN(kinds); k++) {
        if (!recognised(kinds[k].column))
            continue;
        fprintf(out, "%s%s", sep, kinds[k].words[lang]);
        sep = p->list_sep;
    }
    fputs(p->list_end, out);
    fputs(p->recognised, out);
    for (size_t i = 0; import_identifier_names[i]; i++)
        fprintf(out, "%s`%s`", i ? p->list_sep : "",
                import_identifier_names[i]);
    fputs(p->list_end, out);
}

static void
write_security(FILE *out, const phrases *p, const notice_info *ni)
{
    fputs(p->h_security, out);
    fputs(p->at_rest, out);
    fputs(p->transport, out);
    fputs(ni->secure_aggregation ? p->masked : p->unmasked, out);
    if (ni->differential_privacy)
        fputs(p->dp, out);
    fputs("\n", out);
}

static void
write_rights(FILE *out, const phrases *p)
{
    fputs(p->h_rights, out);
    fputs(p->rights_intro, out);
    fprintf(out, p->access, cmd_access);
    fprintf(out, p->erasure, cmd_erasure);
    fprintf(out, p->withdrawal, cmd_withdrawal);
    fprintf(out, p->objection, cmd_objection);
    fputs("\n", out);
}

/* A configured string goes into headings and prose: one line of text. */
static bool
printable(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return false;
    return true;
}

fr_err
notice_write(FILE *out, const notice_info *ni, const char *lang)
{
    const phrases *p;
    int l = 0;

    if (!out || !ni || !lang)
        return FR_EINVAL;
    while (l < N_LANG && strcmp(lang, lang_codes[l]))
        l++;
    if (l == N_LANG || !printable(ni->store_name) ||
        !printable(ni->aggregator) || ni->retention_days < 0)
        return FR_EINVAL;
    p = &texts[l];
    fprintf(out, p->title, ni->store_name);
    fputs(p->h_who, out);
    fprintf(out, p->who, ni->store_name, ni->aggregator);
    write_collected(out, p, l);
    write_discarded(out, p, l);
    fputs(p->h_pseudonym, out);
    fputs(p->pseudonym, out);
    fputs(p->h_purposes, out);
    fputs(p->purposes, out);
    fputs(p->h_retention, out);
    if (ni->retention_days > 0)
        fprintf(out, p->retention_days, ni->retention_days);
    else
        fputs(p->retention_erased, out);
    write_security(out, p, ni);
    write_rights(out, p);
    fputs(p->h_contact, out);
    fputs(p->contact, out);
    if (fflush(out) || ferror(out))
        return FR_ESYS;
    return FR_OK;
}
