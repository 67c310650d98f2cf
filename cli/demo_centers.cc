#include "cli/demo_centers.h"

namespace edwc::cli {

namespace {

// Prices are illustrative CNY fen per device-hour, not any operator's list price.
constexpr DemoModel kZhongwei[] = {{"h800", 64, 1650, 1150}, {"ascend-910b", 128, 880, 620}};
constexpr DemoModel kQingpu[] = {
    {"h800", 32, 2450, 1900}, {"a100-80g", 64, 1480, 1100}, {"h20", 96, 920, 700}};
constexpr DemoModel kGuian[] = {{"ascend-910b", 256, 820, 560}, {"a100-80g", 32, 1050, 760}};
constexpr DemoModel kShaoguan[] = {{"h20", 128, 860, 650}, {"ascend-910b", 64, 1120, 850}};
constexpr DemoModel kZhangjiakou[] = {{"a100-80g", 96, 1200, 880}, {"h20", 64, 780, 560}};
constexpr DemoModel kHelingeer[] = {{"h800", 48, 1580, 1080}, {"ascend-910b", 192, 840, 580}};
constexpr DemoModel kTianfu[] = {{"ascend-910b", 128, 960, 700}, {"hygon-dcu-k100", 96, 520, 380}};
constexpr DemoModel kQingyang[] = {{"ascend-910b", 160, 800, 550}, {"h20", 64, 700, 480}};
constexpr DemoModel kWuhu[] = {{"a100-80g", 48, 1420, 1060}, {"cambricon-mlu370-x8", 64, 560, 420}};
constexpr DemoModel kChongqing[] = {{"ascend-910b", 96, 980, 720}, {"h20", 48, 820, 600}};
constexpr DemoModel kNingbo[] = {{"h20", 64, 950, 720}, {"a100-80g", 32, 1500, 1120}};
constexpr DemoModel kTianjin[] = {{"h800", 32, 2300, 1780}, {"hygon-dcu-k100", 64, 600, 450}};
constexpr DemoModel kUlanqab[] = {{"a100-80g", 128, 1020, 720}, {"h800", 32, 1600, 1100}};

constexpr DemoCenter kCenters[] = {
    {"zhongwei", "Zhongwei Intelligent Computing Center", "ningxia", "Zhongwei", "cn-northwest",
     37.50, 105.19, 30, 550, 1150, kZhongwei},
    {"qingpu", "Qingpu Yangtze Delta Computing Center", "yangtze-delta", "Qingpu (Shanghai)",
     "cn-east", 31.15, 121.12, 60, 250, 1300, kQingpu},
    {"guian", "Gui'an New Area Computing Center", "guizhou", "Gui'an", "cn-southwest", 26.37,
     106.43, 30, 600, 1200, kGuian},
    {"shaoguan", "Shaoguan Greater Bay Computing Center", "greater-bay", "Shaoguan", "cn-south",
     24.81, 113.60, 45, 350, 1250, kShaoguan},
    {"zhangjiakou", "Zhangjiakou Data Center Cluster", "jing-jin-ji", "Zhangjiakou", "cn-north",
     40.77, 114.88, 40, 500, 1200, kZhangjiakou},
    {"helingeer", "Helingeer AI Computing Center", "inner-mongolia", "Helingeer", "cn-north", 40.38,
     111.82, 30, 600, 1150, kHelingeer},
    {"tianfu", "Tianfu Intelligent Computing Center", "chengdu-chongqing", "Tianfu (Chengdu)",
     "cn-southwest", 30.40, 104.07, 40, 650, 1250, kTianfu},
    {"qingyang", "Qingyang Computing Hub", "gansu", "Qingyang", "cn-northwest", 35.71, 107.64, 30,
     550, 1150, kQingyang},
    {"wuhu", "Wuhu Data Center Cluster", "yangtze-delta", "Wuhu", "cn-east", 31.33, 118.38, 50, 250,
     1300, kWuhu},
    {"chongqing", "Chongqing Computing Center", "chengdu-chongqing", "Chongqing", "cn-southwest",
     29.56, 106.55, 40, 450, 1250, kChongqing},
    {"ningbo", "Ningbo Intelligent Computing Center", "yangtze-delta", "Ningbo", "cn-east", 29.87,
     121.55, 55, 250, 1300, kNingbo},
    {"tianjin", "Tianjin Computing Center", "jing-jin-ji", "Tianjin", "cn-north", 39.08, 117.20, 55,
     200, 1300, kTianjin},
    {"ulanqab", "Ulanqab Data Center Cluster", "inner-mongolia", "Ulanqab", "cn-north", 41.00,
     113.13, 30, 550, 1150, kUlanqab},
};

}  // namespace

std::span<const DemoCenter> DemoCenters() { return kCenters; }

}  // namespace edwc::cli
